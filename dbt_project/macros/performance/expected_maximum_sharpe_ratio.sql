{#- SR0 of the deflated Sharpe ratio (Bailey & López de Prado 2014); see _performance__macros.yml. -#}
{% macro expected_maximum_sharpe_ratio(trial_count, sharpe_ratio_variance) -%}
    {%- set euler_gamma = '0.57721566490153286061' -%}
    case
        when ({{ trial_count }}) = 1 then cast(0 as double precision)
        when ({{ trial_count }}) > 1 and ({{ sharpe_ratio_variance }}) >= 0
            then sqrt(cast({{ sharpe_ratio_variance }} as double precision)) * (
                (1 - {{ euler_gamma }}) * {{ udf_schema() }}.normal_quantile(
                    1 - 1 / cast({{ trial_count }} as double precision)
                )
                + {{ euler_gamma }} * {{ udf_schema() }}.normal_quantile(
                    1 - 1 / (cast({{ trial_count }} as double precision) * exp(cast(1 as double precision)))
                )
            )
    end
{%- endmacro %}
