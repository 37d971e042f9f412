{% macro grant_reader_usage() -%}
    do $grant$
    begin
        perform pg_advisory_xact_lock(hashtext('trading.grant_reader_usage'));
        if exists (select from pg_roles where rolname = 'trading_reader')
            and exists (select from pg_namespace where nspname = 'marts')
        then
            grant usage on schema marts to trading_reader;
        end if;
    end
    $grant$;
{%- endmacro %}
