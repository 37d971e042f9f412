{% macro grant_reader_usage() -%}
    do $grant$
    begin
        if exists (select from pg_roles where rolname = 'trading_reader')
            and exists (select from pg_namespace where nspname = 'marts')
        then
            grant usage on schema marts to trading_reader;
        end if;
    end
    $grant$;
{%- endmacro %}
