{#-
    A bracket's exit legs against one bar: reached when the low touches the stop-loss or the
    high the take-profit; when both could fill in the bar the stop is taken (the cautious
    assumption), and a gap through the stop fills at the open, less slippage.
-#}
{% macro backtest_bracket_leg_reached(bars, stop_loss_price, take_profit_price) -%}
    ({{ bars }}.low <= {{ stop_loss_price }} or {{ bars }}.high >= {{ take_profit_price }})
{%- endmacro %}

{% macro backtest_bracket_leg_price(bars, stop_loss_price, take_profit_price, slippage_bps) -%}
    case
        when {{ bars }}.low <= {{ stop_loss_price }}
            then least({{ bars }}.open, {{ stop_loss_price }}) * (1 - {{ slippage_bps }} / 10000)
        else greatest({{ bars }}.open, {{ take_profit_price }})
    end
{%- endmacro %}

{% macro backtest_bracket_leg_reason(bars, stop_loss_price) -%}
    case when {{ bars }}.low <= {{ stop_loss_price }} then 'stop_loss' else 'take_profit' end
{%- endmacro %}
