{#- Generic test: rows of the run being built where the expression is false or null (none without a run). -#}
{% test holds_in_run(model, expression) %}
    select *
    from {{ model }}
    where
        {{ backtest_run_filter('run_id') }}
        and not coalesce({{ expression }}, false)
{% endtest %}
