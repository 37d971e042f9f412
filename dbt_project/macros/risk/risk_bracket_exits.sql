{% macro risk_bracket_exits(signals, fills, decision_times) -%}
    select
        bracket_exits.as_of,
        bracket_exits.strategy,
        bracket_exits.symbol
    from (
        select
            {{ decision_times }}.as_of,
            {{ fills }}.strategy,
            {{ fills }}.symbol,
            max({{ fills }}.filled_at) as exited_at
        from {{ fills }}
        inner join {{ decision_times }}
            on {{ fills }}.filled_at < {{ decision_times }}.as_of
        where {{ fills }}.is_bracket_exit
        group by {{ decision_times }}.as_of, {{ fills }}.strategy, {{ fills }}.symbol
    ) as bracket_exits
    left join (
        {#- Entries older than the 7 days deciding_bars looks at count as before the exit. #}
        select
            {{ decision_times }}.as_of,
            {{ signals }}.strategy,
            {{ signals }}.symbol,
            max({{ signals }}.decision_at) as entered_at
        from {{ signals }}
        inner join {{ decision_times }}
            on
                {{ signals }}.decision_at <= {{ decision_times }}.as_of
                and {{ signals }}.decision_at > {{ decision_times }}.as_of - interval '7 days'
        where {{ signals }}.signal = 'buy'
        group by {{ decision_times }}.as_of, {{ signals }}.strategy, {{ signals }}.symbol
    ) as latest_entries
        on
            bracket_exits.as_of = latest_entries.as_of
            and bracket_exits.strategy = latest_entries.strategy
            and bracket_exits.symbol = latest_entries.symbol
    where latest_entries.entered_at is null or latest_entries.entered_at <= bracket_exits.exited_at
{%- endmacro %}
