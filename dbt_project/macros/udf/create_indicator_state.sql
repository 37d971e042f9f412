{#- Positions (1-based) in udf.indicator_state's double precision[] state. -#}
{% macro indicator_state_layout() -%}
    {{- return({
        'bar_number': 1,
        'previous_close': 2,
        'ema_12_count': 3,
        'ema_12': 4,
        'ema_26_count': 5,
        'ema_26': 6,
        'macd_fast_ema_count': 7,
        'macd_fast_ema': 8,
        'macd_signal_count': 9,
        'macd_signal': 10,
        'wilder_14_count': 11,
        'avg_gain_14': 12,
        'avg_loss_14': 13,
        'atr_14': 14,
    }) -}}
{%- endmacro %}

{#- An average from the state: null until its count reached the period that seeds it. -#}
{% macro indicator_state_value(state, name) -%}
    {%- set layout = indicator_state_layout() -%}
    {%- set periods = {
        'ema_12': ('ema_12_count', 12),
        'ema_26': ('ema_26_count', 26),
        'macd_fast_ema': ('macd_fast_ema_count', 12),
        'macd_signal': ('macd_signal_count', 9),
        'avg_gain_14': ('wilder_14_count', 14),
        'avg_loss_14': ('wilder_14_count', 14),
        'atr_14': ('wilder_14_count', 14),
    } -%}
    {%- if name in periods -%}
        case
            when {{ state }}[{{ layout[periods[name][0]] }}] = {{ periods[name][1] }}
                then {{ state }}[{{ layout[name] }}]
        end
    {%- else -%}
        {{ state }}[{{ layout[name] }}]
    {%- endif -%}
{%- endmacro %}

{#- The state of a series whose averages are all seeded, from a stored row's values. -#}
{% macro indicator_state_seed(bar_number, close, ema_12, ema_26, macd_fast_ema, macd_signal,
    avg_gain_14, avg_loss_14, atr_14) -%}
    array[
        cast({{ bar_number }} as double precision),
        cast({{ close }} as double precision),
        12, {{ ema_12 }},
        26, {{ ema_26 }},
        12, {{ macd_fast_ema }},
        9, {{ macd_signal }},
        14, {{ avg_gain_14 }}, {{ avg_loss_14 }}, {{ atr_14 }}
    ]
{%- endmacro %}

{% macro create_indicator_state() -%}
    {%- set schema = udf_schema() -%}
    create or replace function {{ schema }}.indicator_state_step(
        state double precision[],
        close_price double precision,
        high_price double precision,
        low_price double precision,
        seed double precision[]
    )
    returns double precision[]
    language plpgsql
    immutable
    parallel safe
    as $body$
    declare
        bars double precision;
        previous double precision;
        n12 double precision;
        e12 double precision;
        n26 double precision;
        e26 double precision;
        nf double precision;
        ef double precision;
        n9 double precision;
        e9 double precision;
        nw double precision;
        gain double precision;
        loss double precision;
        atr double precision;
        change double precision;
        up double precision;
        down double precision;
        true_range double precision;
        macd double precision;
    begin
        if state is null then
            state := coalesce(seed, array[0, null, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        end if;
        bars := state[1] + 1;
        previous := state[2];
        n12 := state[3];
        e12 := state[4];
        n26 := state[5];
        e26 := state[6];
        nf := state[7];
        ef := state[8];
        n9 := state[9];
        e9 := state[10];
        nw := state[11];
        gain := state[12];
        loss := state[13];
        atr := state[14];

        if n12 < 11 then
            n12 := n12 + 1;
            e12 := e12 + close_price;
        elsif n12 = 11 then
            n12 := 12;
            e12 := (e12 + close_price) / 12;
        else
            e12 := ((close_price - e12) * (cast(2 as double precision) / 13)) + e12;
        end if;

        if n26 < 25 then
            n26 := n26 + 1;
            e26 := e26 + close_price;
        elsif n26 = 25 then
            n26 := 26;
            e26 := (e26 + close_price) / 26;
        else
            e26 := ((close_price - e26) * (cast(2 as double precision) / 27)) + e26;
        end if;

        if bars > 14 then
            if nf < 11 then
                nf := nf + 1;
                ef := ef + close_price;
            elsif nf = 11 then
                nf := 12;
                ef := (ef + close_price) / 12;
            else
                ef := ((close_price - ef) * (cast(2 as double precision) / 13)) + ef;
            end if;
        end if;

        if n26 = 26 and nf = 12 then
            macd := ef - e26;
            if n9 < 8 then
                n9 := n9 + 1;
                e9 := e9 + macd;
            elsif n9 = 8 then
                n9 := 9;
                e9 := (e9 + macd) / 9;
            else
                e9 := ((macd - e9) * (cast(2 as double precision) / 10)) + e9;
            end if;
        end if;

        if previous is not null then
            change := close_price - previous;
            if change < 0 then
                up := 0;
                down := -change;
            else
                up := change;
                down := 0;
            end if;
            true_range := greatest(high_price - low_price, abs(high_price - previous), abs(low_price - previous));
            if nw < 13 then
                nw := nw + 1;
                gain := gain + up;
                loss := loss + down;
                atr := atr + true_range;
            elsif nw = 13 then
                nw := 14;
                gain := (gain + up) / 14;
                loss := (loss + down) / 14;
                atr := (atr + true_range) / 14;
            else
                gain := (gain * 13 + up) / 14;
                loss := (loss * 13 + down) / 14;
                atr := (atr * 13 + true_range) / 14;
            end if;
        end if;

        return array[bars, close_price, n12, e12, n26, e26, nf, ef, n9, e9, nw, gain, loss, atr];
    end;
    $body$;

    create or replace aggregate {{ schema }}.indicator_state(
        double precision, double precision, double precision, double precision[]
    ) (
        sfunc = {{ schema }}.indicator_state_step,
        stype = double precision[]
    );
{%- endmacro %}
