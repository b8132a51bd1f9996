"""Signed webhooks for calendar integrations, delivered in change-feed order.

Each subscription has its own queue (one delivery row per change it wants). A worker
takes a subscription under a lease and delivers its oldest pending change first, so the
order a receiver sees follows the change feed. Each attempt is logged. A change that
still fails after 24 h of retries is marked dead and the subscription stays marked
failing (visible in the API) until a delivery succeeds; an admin can replay.

Signature: ``X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "t.body")>``;
receivers refuse old timestamps to stop replays.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import time

import requests
from sqlalchemy import func, select, update

from ...adapters.outbound import OutboundError, OutboundSession
from ...database import begin_write
from ...domain.errors import Invalid
from ...extensions import db
from ...models import Change, WebhookAttempt, WebhookDelivery, WebhookSubscription
from ..platform import audit, outbound_policy, records
from ..platform.leases import lease_free, take_lease
from ..platform.secrets_box import seal, unseal

log = logging.getLogger("scheduler.webhooks_out")
GIVE_UP_AFTER = dt.timedelta(hours=24)
LEASE = dt.timedelta(minutes=2)
TIMEOUT = 5.0
ANSWER_BYTES = 64 * 1024  # of a receiver's answer we read at most this much (only its status matters)
EVENT_KINDS = ("appointment.booked", "appointment.moved", "appointment.cancelled", "appointment.noshow",
               "appointment.conflict", "availability.rule_added", "availability.rule_removed",
               "time_off.added", "time_off.removed", "busy.updated")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def subscribe(url: str, events: list[str], actor: str) -> tuple[WebhookSubscription, str]:
    unknown = sorted(set(events) - set(EVENT_KINDS) - {"*"})
    if unknown:
        raise Invalid("Unknown event kinds.", errors={"events": [f"Unknown: {', '.join(unknown)}."]})
    outbound_policy.require_allowed(url)
    begin_write()
    secret = "whsec_" + secrets.token_urlsafe(32)
    latest = db.session.scalar(select(func.max(Change.id))) or 0
    sub = WebhookSubscription(url=url, events=sorted(set(events)), secret_sealed=seal(secret),
                              queued_through=latest)
    db.session.add(sub)
    db.session.flush()
    audit.record(actor, "create", sub)
    db.session.commit()
    return sub, secret


def unsubscribe(sub_id: int, actor: str) -> None:
    begin_write()
    sub = records.lock(WebhookSubscription, sub_id, "webhook subscription")
    audit.record(actor, "delete", sub, before=audit.snapshot(sub), after={})
    db.session.execute(WebhookAttempt.__table__.delete().where(WebhookAttempt.delivery_id.in_(
        select(WebhookDelivery.id).where(WebhookDelivery.subscription_id == sub_id))))
    db.session.execute(WebhookDelivery.__table__.delete().where(WebhookDelivery.subscription_id == sub_id))
    db.session.delete(sub)
    db.session.commit()


def _wants(sub: WebhookSubscription, kind: str) -> bool:
    return "*" in sub.events or kind in sub.events


def enqueue(now: dt.datetime, batch: int = 500) -> int:
    """Queue the changes each subscription has not seen yet (idempotent: unique per pair)."""
    begin_write()
    added = 0
    subs = list(db.session.scalars(select(WebhookSubscription).where(WebhookSubscription.active.is_(True))
                                   .with_for_update(skip_locked=True)))
    for sub in subs:
        changes = list(db.session.scalars(select(Change).where(Change.id > sub.queued_through)
                                          .order_by(Change.id).limit(batch)))
        for change in changes:
            if _wants(sub, change.kind):
                db.session.add(WebhookDelivery(subscription_id=sub.id, change_id=change.id,
                                               next_attempt_at=now))
                added += 1
        if changes:
            sub.queued_through = changes[-1].id
    db.session.commit()
    return added


def replay(sub_id: int, since: int, actor: str, now: dt.datetime) -> int:
    """Deliver again every wanted change after ``since`` (an admin's repair tool)."""
    begin_write()
    sub = records.lock(WebhookSubscription, sub_id, "webhook subscription")
    existing = {d.change_id: d for d in db.session.scalars(select(WebhookDelivery).where(
        WebhookDelivery.subscription_id == sub_id, WebhookDelivery.change_id > since))}
    count = 0
    for change in db.session.scalars(select(Change).where(Change.id > since, Change.id <= sub.queued_through)
                                     .order_by(Change.id)):
        if not _wants(sub, change.kind):
            continue
        row = existing.get(change.id)
        if row is None:
            db.session.add(WebhookDelivery(subscription_id=sub_id, change_id=change.id, next_attempt_at=now))
        else:
            row.status, row.attempts, row.next_attempt_at, row.first_attempt_at = "pending", 0, now, None
        count += 1
    audit.record(actor, "replay", sub, after={"since": since, "queued": count})
    db.session.commit()
    return count


def payload(change: Change) -> bytes:
    body = {"id": change.id, "kind": change.kind, "at": change.at.isoformat(),
            "entity_type": change.entity_type, "entity_id": change.entity_id,
            "provider_id": change.provider_id, "room_id": change.room_id, "location_id": change.location_id,
            "start": change.start_at.isoformat() if change.start_at else None,
            "end": change.end_at.isoformat() if change.end_at else None, "data": change.data}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def _claim_subscription(now: dt.datetime, owner: str, exclude=frozenset()) -> int | None:
    begin_write()
    pending = select(WebhookDelivery.subscription_id).where(
        WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
    # Skip the subscriptions this run already visited: one whose head waits (back-off)
    # would otherwise be claimed again and again, leased and never released, and every
    # subscription after it would be starved.
    query = select(WebhookSubscription.id).where(
        WebhookSubscription.active.is_(True), lease_free(WebhookSubscription, now),
        WebhookSubscription.id.in_(pending))
    if exclude:
        query = query.where(WebhookSubscription.id.not_in(list(exclude)))
    sub_id = db.session.scalar(query.order_by(WebhookSubscription.id).limit(1))
    if sub_id is not None and not take_lease(WebhookSubscription, sub_id, owner, now, LEASE):
        sub_id = None
    db.session.commit()
    return sub_id


def deliver_due(now: dt.datetime, owner: str, max_per_subscription: int = 50) -> int:
    """Deliver pending changes, subscription by subscription, oldest first."""
    http = OutboundSession(outbound_policy.policy(), max_bytes=ANSWER_BYTES, timeout=TIMEOUT, truncate=True)
    sent = 0
    seen = set()
    while True:
        sub_id = _claim_subscription(now, owner, exclude=seen)
        if sub_id is None:
            return sent
        seen.add(sub_id)
        try:
            sent += _deliver_queue(sub_id, now, http, max_per_subscription)
        finally:
            db.session.rollback()  # after an error, release the lease all the same
            begin_write()
            db.session.execute(update(WebhookSubscription).where(
                WebhookSubscription.id == sub_id, WebhookSubscription.lease_owner == owner)
                .values(lease_owner=None, lease_until=None))
            db.session.commit()


def _deliver_queue(sub_id: int, now: dt.datetime, http: requests.Session, limit: int) -> int:
    sent = 0
    for _ in range(limit):
        sub = db.session.get(WebhookSubscription, sub_id)
        delivery = db.session.scalar(select(WebhookDelivery).where(
            WebhookDelivery.subscription_id == sub_id, WebhookDelivery.status == "pending")
            .order_by(WebhookDelivery.change_id).limit(1))
        if delivery is None or delivery.next_attempt_at > now:
            return sent  # head of the queue waits: later changes never overtake it
        change = db.session.get(Change, delivery.change_id)
        secret = unseal(sub.secret_sealed)
        url, body = sub.url, payload(change)
        db.session.rollback()
        status, error, ms = _post(http, url, body, secret, now)
        ok = _record_attempt(delivery.id, sub_id, now, status, error, ms)
        if not ok:
            return sent
        sent += 1
    return sent


def _post(http, url: str, body: bytes, secret: str | None, now: dt.datetime):
    if secret is None:
        return None, "signing secret unreadable (SECRET_KEY changed); recreate the subscription", 0
    started = time.monotonic()
    headers = {"Content-Type": "application/json", "User-Agent": "clinic-scheduler-webhooks/1",
               "X-Signature": signature(secret, int(now.timestamp()), body)}
    try:
        response = http.post(url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False)
        error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
        return response.status_code, error, int((time.monotonic() - started) * 1000)
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}", int((time.monotonic() - started) * 1000)
    except OutboundError as exc:  # refused before any connection: the operator must act
        return None, f"{exc.code}: {exc.reason}", int((time.monotonic() - started) * 1000)


def _record_attempt(delivery_id, sub_id, now, status, error, ms) -> bool:
    from ..messaging.dispatch import backoff

    begin_write()
    delivery = db.session.get(WebhookDelivery, delivery_id)
    sub = db.session.get(WebhookSubscription, sub_id)
    db.session.add(WebhookAttempt(delivery_id=delivery_id, at=now, status_code=status, error=error,
                                  duration_ms=ms))
    delivery.attempts += 1
    delivery.first_attempt_at = delivery.first_attempt_at or now
    delivery.last_status, delivery.last_error = status, error
    if error is None:
        delivery.status, delivery.delivered_at = "delivered", now
        sub.failing_since, sub.last_error = None, None
    else:
        sub.failing_since = sub.failing_since or now
        sub.last_error = f"change {delivery.change_id}: {error}"[:300]
        if now - delivery.first_attempt_at >= GIVE_UP_AFTER:
            delivery.status = "dead"
            log.warning("webhook %s: gave up on change %s after %s attempts", sub_id, delivery.change_id,
                        delivery.attempts)
        else:
            delivery.next_attempt_at = now + backoff(delivery.attempts)
    db.session.commit()
    return error is None


def backlog() -> dict[int, int]:
    rows = db.session.execute(select(WebhookDelivery.subscription_id, func.count()).where(
        WebhookDelivery.status == "pending").group_by(WebhookDelivery.subscription_id))
    return dict(rows.all())

