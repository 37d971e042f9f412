{% test strategy_mode_is(model, column_name, mode, specs, at) %}

select *
from {{ model }} as decided
where not exists (
    select
    from {{ specs }} as specs
    where
        specs.strategy = decided.{{ column_name }}
        and specs.mode = '{{ mode }}'
        and specs.applies_from <= decided.{{ at }}
        and (specs.effective_to is null or specs.effective_to > decided.{{ at }})
)

{% endtest %}
