{% macro create_udfs() -%}
    {#- Concurrent builds (a cycle, sweep chunks) would race on create or replace: one at a time. #}
    select pg_advisory_xact_lock(hashtext('trading.create_udfs'));
    create schema if not exists {{ udf_schema() }};
    {{ create_wilder_average() }}
    {{ create_exponential_average() }}
    {{ create_indicator_state() }}
    {{ create_average_cost() }}
    {{ create_normal_cdf() }}
    {{ create_normal_quantile() }}
{%- endmacro %}

{% macro udf_schema() -%}
    udf
{%- endmacro %}
