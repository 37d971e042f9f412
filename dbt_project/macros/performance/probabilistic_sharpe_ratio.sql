{#- PSR (Bailey & López de Prado 2012) as an SQL expression; see _performance__macros.yml. -#}
{% macro probabilistic_sharpe_ratio(
    sharpe_ratio, observation_count, skewness, kurtosis, benchmark_sharpe_ratio='0'
) -%}
    {%- set radicand -%}
        (1 - ({{ skewness }}) * ({{ sharpe_ratio }})
        + (({{ kurtosis }}) - 1) / 4 * ({{ sharpe_ratio }}) * ({{ sharpe_ratio }}))
    {%- endset -%}
    case
        when ({{ observation_count }}) > 1 and {{ radicand }} > 0
            then {{ udf_schema() }}.normal_cdf(
                cast(
                    (({{ sharpe_ratio }}) - ({{ benchmark_sharpe_ratio }}))
                    * sqrt(({{ observation_count }}) - 1) / sqrt({{ radicand }})
                    as double precision
                )
            )
    end
{%- endmacro %}
