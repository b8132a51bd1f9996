"""Webhook subscriptions: who wants which changes of the change feed, at which URL, signed
with which secret (shown once, kept sealed); their delivery log and an admin's replay."""
from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ...adapters.outbound import OutboundPolicy
from ...domain.errors import Invalid
from ...domain.vocabulary import CHANGE_KINDS
from ...extensions import db
from ...models import Change, WebhookAttempt, WebhookDelivery, WebhookSubscription
from ..platform import audit, records
from ..platform.outbound_policy import require_allowed
from ..platform.secrets_box import SecretBox
from ..platform.transaction import write_transaction

LABEL = "webhook subscription"


def wants(sub: WebhookSubscription, kind: str) -> bool:
    return "*" in sub.events or kind in sub.events


def subscribe(url: str, events: list[str], actor, secret_box: SecretBox,
              policy: OutboundPolicy) -> WebhookSubscription:
    """A new subscription; its signing secret is on ``.secret`` this once. ``policy``: the
    URL must be one deliveries may post to."""
    unknown = sorted(set(events) - set(CHANGE_KINDS) - {"*"})
    if unknown:
        raise Invalid("Unknown event kinds.", errors={"events": [f"Unknown: {', '.join(unknown)}."]})
    require_allowed(url, policy)
    secret = "whsec_" + secrets.token_urlsafe(32)
    with write_transaction():
        latest = db.session.scalar(select(func.max(Change.id))) or 0
        sub = records.add(WebhookSubscription(url=url, events=sorted(set(events)),
                                              secret_sealed=secret_box.seal(secret), queued_through=latest),
                          actor)
    sub.secret, sub.backlog = secret, 0
    return sub


def unsubscribe(sub_id: int, actor) -> None:
    with write_transaction():
        sub = records.lock(WebhookSubscription, sub_id, LABEL)
        db.session.execute(WebhookAttempt.__table__.delete().where(WebhookAttempt.delivery_id.in_(
            select(WebhookDelivery.id).where(WebhookDelivery.subscription_id == sub_id))))
        db.session.execute(WebhookDelivery.__table__.delete().where(WebhookDelivery.subscription_id == sub_id))
        records.remove(sub, actor)


def replay(sub_id: int, since: int, actor, now: dt.datetime) -> int:
    """Deliver again every wanted change after ``since`` (an admin's repair tool)."""
    with write_transaction():
        sub = records.lock(WebhookSubscription, sub_id, LABEL)
        existing = {d.change_id: d for d in db.session.scalars(select(WebhookDelivery).where(
            WebhookDelivery.subscription_id == sub_id, WebhookDelivery.change_id > since))}
        count = 0
        for change in db.session.scalars(select(Change).where(
                Change.id > since, Change.id <= sub.queued_through).order_by(Change.id)):
            if not wants(sub, change.kind):
                continue
            row = existing.get(change.id)
            if row is None:
                db.session.add(WebhookDelivery(subscription_id=sub_id, change_id=change.id, next_attempt_at=now))
            else:
                row.status, row.attempts, row.next_attempt_at, row.first_attempt_at = "pending", 0, now, None
            count += 1
        audit.record(actor, "replay", sub, after={"since": since, "queued": count})
    return count


def _with_backlog(subs: list[WebhookSubscription]) -> list[WebhookSubscription]:
    counts = dict(db.session.execute(select(WebhookDelivery.subscription_id, func.count()).where(
        WebhookDelivery.status == "pending").group_by(WebhookDelivery.subscription_id)).all())
    for sub in subs:
        sub.backlog = counts.get(sub.id, 0)
    return subs


def list_subscriptions(limit: int, after: int | None) -> records.Page:
    page = records.page(WebhookSubscription, limit, after)
    _with_backlog(page.items)
    return page


def subscription(sub_id: int) -> WebhookSubscription:
    return _with_backlog([records.get(WebhookSubscription, sub_id, LABEL)])[0]


def deliveries(sub_id: int, limit: int, after: int | None) -> records.Page:
    """The delivery log, oldest first, each with its attempts."""
    records.get(WebhookSubscription, sub_id, LABEL)
    return records.page(WebhookDelivery, limit, after, WebhookDelivery.subscription_id == sub_id,
                        options=(selectinload(WebhookDelivery.attempt_log),))
