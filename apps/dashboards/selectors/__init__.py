"""Every number the operators' pages show: one selector per page, each taking ``now``.

The pages read the live tables for what is cheap (campaigns, waves, subscribers by index, the
decision log) and the roll-ups (``ActivityWeek``, ``CampaignReach``) for what would scan events
or every send. Each selector runs a bounded number of queries whatever the number of campaigns
or sends (the query-count tests hold them to it).

Definitions (docs/dashboards.md says the same for operators):

* weekly active subscribers: distinct subscribers with an open, click or read in the week
  (Monday-Sunday UTC); the current, unfinished week counts ``Subscriber.last_activity_at``.
* reactivated: a recipient with no activity in their client's inactive days (the policy's) before the push and some in the 7 days
  after it (the click on the push itself counts).
* click improvement: clicks / expected clicks, expected = the recipients' usual push CTRs summed.

One module per page: ``overview``, ``campaign``, ``contents`` (the table and its CSV), ``models``,
``system``; ``common`` has what they share. The pages' selectors are re-exported here.
"""

from apps.dashboards.selectors.campaign import campaign_for_user, campaign_page, improvement_intervals, reach_summary
from apps.dashboards.selectors.common import visible_client_choices
from apps.dashboards.selectors.contents import (
    CONTENT_SORTS, CSV_COLUMNS, PERIODS, content_results, contents_csv_rows, contents_table,
)
from apps.dashboards.selectors.models import models_page, training_runs
from apps.dashboards.selectors.overview import alerts, overview, running_campaigns
from apps.dashboards.selectors.system import system_page

__all__ = [
    "CONTENT_SORTS", "CSV_COLUMNS", "PERIODS", "alerts", "campaign_for_user", "campaign_page", "content_results", "contents_csv_rows",
    "contents_table",
    "improvement_intervals", "models_page", "overview", "reach_summary", "running_campaigns", "system_page",
    "training_runs", "visible_client_choices",
]
