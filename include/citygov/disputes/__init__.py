"""The dispute queue (异议处置): one accountable queue for every failure and every person's objection.

Problem data can be reported back (可反馈), the process traced (可追溯) and every problem attributed to a
responsible unit (可定责):

- **routing** (:func:`route_findings`): census, patrol, quality, backflow and catalog-import findings
  become items, one per problem (dataset, rule, column, record key); recurrences update the open item,
  a passing later run verifies it, a failure after 已更正 reopens it;
- **people** (:func:`raise_dispute`, :func:`transition`, :func:`reassign`, :func:`set_assignee`,
  :func:`comment`, :func:`extend_deadline`, :func:`set_flag`, :func:`drop_draft_rule`, and
  :func:`bulk_act` on a selection, item by item): consumers raise disputes against a dataset or a record; stewards and department
  officers move items through :class:`Status` (stored in Chinese: 待受理 → 已受理 → 核实中 → 已更正 /
  维持原数据 / 驳回 → 已核验 → 已归档); every step is an append-only event;
- **deadlines** in working days of the official calendar with 调休 (:mod:`citygov.disputes.workdays`),
  escalated by :func:`escalate_overdue` (the hourly ``dispute_sla`` DAG);
- **reading**: :func:`list_disputes`, :func:`get_dispute`, :func:`list_flags`, :func:`dispute_kpis`,
  :func:`export_audit`.

The ``govern disputes`` commands, the DAGs and the web API (Airflow plugin ``citygov_disputes``) all
call these functions. Errors are :class:`DisputeError` subclasses carrying an HTTP status.
"""

from citygov.disputes.drafts import drop_draft_rule, item_draft_rule
from citygov.disputes.errors import (
    DisputeError,
    DisputeNotFound,
    IllegalTransition,
    InvalidInput,
    NotPermitted,
    UnknownActor,
    VersionConflict,
)
from citygov.disputes.figures import dispute_kpis
from citygov.disputes.queue import (
    BULK_ACTIONS,
    SORTS,
    ActorView,
    BulkFailure,
    BulkResult,
    DisputeEventView,
    DisputePage,
    DisputeView,
    EscalationReport,
    FlagView,
    RaiseResult,
    audit_events,
    bulk_act,
    comment,
    dispute_assignees,
    dispute_rules,
    dispute_units,
    escalate_overdue,
    export_audit,
    extend_deadline,
    get_dispute,
    list_actors,
    list_disputes,
    list_flags,
    page_disputes,
    raise_dispute,
    reassign,
    register_actor,
    rule_title,
    set_assignee,
    set_flag,
    transition,
)
from citygov.disputes.routing import RoutingReport, record_catalog_rejections, route_findings
from citygov.disputes.states import TRANSITIONS, Role, Status
from citygov.disputes.workdays import CalendarRangeError, Deadline, DeadlinePolicy, add_workdays

__all__ = [
    "BULK_ACTIONS", "SORTS", "BulkFailure", "BulkResult", "bulk_act", "comment", "dispute_assignees",
    "dispute_rules", "rule_title", "set_assignee",
    "TRANSITIONS", "ActorView", "CalendarRangeError", "Deadline", "DeadlinePolicy", "DisputeError",
    "DisputeEventView", "DisputeNotFound", "DisputePage", "DisputeView", "EscalationReport", "FlagView", "IllegalTransition",
    "InvalidInput", "NotPermitted", "RaiseResult", "Role", "RoutingReport", "Status", "UnknownActor",
    "VersionConflict", "add_workdays", "audit_events", "dispute_kpis", "drop_draft_rule", "item_draft_rule", "escalate_overdue", "export_audit", "dispute_units", "page_disputes",
    "extend_deadline", "get_dispute", "list_actors", "list_disputes", "list_flags", "raise_dispute",
    "reassign", "record_catalog_rejections", "register_actor", "route_findings", "set_flag", "transition",
]
