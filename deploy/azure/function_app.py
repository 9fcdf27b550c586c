"""Azure Functions app (Python v2 programming model): one timer trigger that runs the agent every 15 minutes.

Deploy this folder with `func azure functionapp publish <app>` after `pip install` of requirements.txt. Settings:
ORIGIN_REGION_AGENT_CONFIG (path of the config file shipped next to this file, e.g. config.yaml), and
CLOUDFLARE_API_TOKEN as a Key Vault reference (@Microsoft.KeyVault(SecretUri=...)). The function app's managed
identity is what the Azure inventory authenticates as (DefaultAzureCredential).
"""

import azure.functions as func

from agent.handlers.azure import run_timer

app = func.FunctionApp()


# NCRONTAB has six fields: {second} {minute} {hour} {day} {month} {day-of-week}. run_on_startup stays off: it would
# also fire on every scale-out and restart. use_monitor keeps the schedule across host restarts (isPastDue).
@app.timer_trigger(schedule="0 */15 * * * *", arg_name="timer", run_on_startup=False, use_monitor=True)
def origin_region_agent(timer: func.TimerRequest) -> None:
    """Run one reconcile pass; the JSON summary is the last log line (Application Insights traces)."""
    run_timer(timer)
