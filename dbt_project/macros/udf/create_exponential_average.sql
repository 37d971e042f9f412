{% macro create_exponential_average() -%}
    {%- set schema = udf_schema() -%}
    create or replace function {{ schema }}.exponential_average_seeded_step(
        state double precision[],
        value double precision,
        period integer,
        seed double precision
    )
    returns double precision[]
    language plpgsql
    immutable
    parallel safe
    as $body$
    begin
        if state is null then
            if seed is null then
                state := array[0, 0, 0];
            else
                state := array[period, seed, 1];
            end if;
        end if;
        if value is null then
            return state;
        elsif state[1] < period - 1 then
            return array[state[1] + 1, state[2] + value, 0];
        elsif state[1] = period - 1 then
            return array[period, (state[2] + value) / period, 1];
        else
            return array[
                period,
                ((value - state[2]) * (cast(2 as double precision) / (period + 1))) + state[2],
                1
            ];
        end if;
    end;
    $body$;

    create or replace function {{ schema }}.exponential_average_final(state double precision[])
    returns double precision
    language plpgsql
    immutable
    strict
    parallel safe
    as $body$
    begin
        if state[3] = 1 then
            return state[2];
        end if;
        return null;
    end;
    $body$;

    create or replace aggregate {{ schema }}.exponential_average(
        double precision, integer, double precision
    ) (
        sfunc = {{ schema }}.exponential_average_seeded_step,
        stype = double precision[],
        finalfunc = {{ schema }}.exponential_average_final
    );
{%- endmacro %}
