{#- A fill's fees: commission per share and in basis points, and on a sell the SEC fee and the FINRA TAF (capped). -#}
{% macro backtest_fees(qty, price, is_sell, runs) -%}
    (
        {{ qty }} * {{ runs }}.commission_per_share
        + {{ qty }} * {{ price }} * {{ runs }}.commission_bps / 10000
        + case
            when {{ is_sell }}
                then
                    {{ qty }} * {{ price }} * {{ runs }}.sec_fee_per_million / 1000000
                    + least({{ qty }} * {{ runs }}.finra_taf_per_share, {{ runs }}.finra_taf_max)
            else 0
        end
    )
{%- endmacro %}
