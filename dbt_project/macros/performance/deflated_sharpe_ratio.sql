{#- DSR (Bailey & López de Prado 2014) as an SQL expression; see _performance__macros.yml. -#}
{% macro deflated_sharpe_ratio(
    sharpe_ratio, observation_count, skewness, kurtosis, trial_count, sharpe_ratio_variance
) -%}
    {{ probabilistic_sharpe_ratio(
        sharpe_ratio,
        observation_count,
        skewness,
        kurtosis,
        expected_maximum_sharpe_ratio(trial_count, sharpe_ratio_variance)
    ) }}
{%- endmacro %}
