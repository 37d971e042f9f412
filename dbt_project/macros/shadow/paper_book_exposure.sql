{% macro paper_book_exposure(books, positions, bars) -%}
    {#- Each book's positions marked at the latest close known at the decision time. #}
    select
        {{ books }}.as_of,
        {{ books }}.strategy,
        count(*) filter (where {{ positions }}.position_qty <> 0) as account_open_positions,
        coalesce(sum(abs({{ positions }}.position_qty * marks.close)), 0) as gross_value,
        coalesce(sum({{ positions }}.position_qty * marks.close), 0) as net_value
    from {{ books }}
    left join {{ positions }}
        on
            {{ books }}.as_of = {{ positions }}.as_of
            and {{ books }}.strategy = {{ positions }}.strategy
    left join lateral (
        select {{ bars }}.close
        from {{ bars }}
        where
            {{ bars }}.symbol = {{ positions }}.symbol
            and {{ bars }}.timeframe = {{ books }}.timeframe
            and {{ bars }}.bar_end_at <= {{ books }}.as_of
            {#- Implied (a bar starts before it ends); lets an index on ts bound the search. #}
            and {{ bars }}.ts < {{ books }}.as_of
        order by {{ bars }}.ts desc
        limit 1
    ) as marks on true
    group by {{ books }}.as_of, {{ books }}.strategy
{%- endmacro %}
