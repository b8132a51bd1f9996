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
import time

import requests
from sqlalchemy import select

from ...adapters.outbound import OutboundError, OutboundPolicy, OutboundSession
from ...domain.retry import DELIVERY
from ...extensions import db
from ...models import Change, WebhookAttempt, WebhookDelivery, WebhookSubscription
from ..platform import leases
from ..platform.secrets_box import SecretBox
from ..platform.transaction import end_read, write_transaction
from .webhook_subscriptions import wants

log = logging.getLogger("scheduler.webhook_delivery")
GIVE_UP_AFTER = dt.timedelta(hours=24)
LEASE = dt.timedelta(minutes=2)
TIMEOUT = 5.0
ANSWER_BYTES = 64 * 1024  # of a receiver's answer we read at most this much (only its status matters)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def enqueue(now: dt.datetime, batch: int = 500) -> int:
    """Queue the changes each subscription has not seen yet (idempotent: unique per pair)."""
    added = 0
    with write_transaction():
        subs = list(db.session.scalars(select(WebhookSubscription).where(WebhookSubscription.active.is_(True))
                                       .with_for_update(skip_locked=True)))
        for sub in subs:
            changes = list(db.session.scalars(select(Change).where(Change.id > sub.queued_through)
                                              .order_by(Change.id).limit(batch)))
            for change in changes:
                if wants(sub, change.kind):
                    db.session.add(WebhookDelivery(subscription_id=sub.id, change_id=change.id,
                                                   next_attempt_at=now))
                    added += 1
            if changes:
                sub.queued_through = changes[-1].id
    return added


def payload(change: Change) -> bytes:
    body = {"id": change.id, "kind": change.kind, "at": change.at.isoformat(),
            "entity_type": change.entity_type, "entity_id": change.entity_id,
            "provider_id": change.provider_id, "room_id": change.room_id, "location_id": change.location_id,
            "start": change.start_at.isoformat() if change.start_at else None,
            "end": change.end_at.isoformat() if change.end_at else None, "data": change.data}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def _claim_subscription(now: dt.datetime, owner: str, exclude=frozenset()) -> int | None:
    pending = select(WebhookDelivery.subscription_id).where(
        WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
    # Skip the subscriptions this run already visited: one whose head waits (back-off)
    # would otherwise be claimed again and again, leased and never released, and every
    # subscription after it would be starved.
    due = (WebhookSubscription.active.is_(True) & leases.lease_free(WebhookSubscription, now)
           & WebhookSubscription.id.in_(pending))
    if exclude:
        due = due & WebhookSubscription.id.not_in(list(exclude))
    with write_transaction():
        taken = leases.claim(WebhookSubscription, due, owner, now, LEASE, order_by=(WebhookSubscription.id,))
    return taken[0] if taken else None


def deliver_due(now: dt.datetime, owner: str, secret_box: SecretBox, policy: OutboundPolicy,
                max_per_subscription: int = 50) -> int:
    """Deliver pending changes, subscription by subscription, oldest first. Every post obeys
    ``policy``, checked again before each connection (a subscription's host may since resolve
    elsewhere), follows no redirect and reads at most ANSWER_BYTES of the answer."""
    sent = 0
    seen = set()
    with OutboundSession(policy, max_bytes=ANSWER_BYTES, timeout=TIMEOUT, truncate=True) as http:
        while True:
            sub_id = _claim_subscription(now, owner, exclude=seen)
            if sub_id is None:
                return sent
            seen.add(sub_id)
            try:
                sent += _deliver_queue(sub_id, now, http, max_per_subscription, secret_box)
            finally:
                end_read()  # after an error, release the lease all the same
                with write_transaction():
                    leases.update_if_held(WebhookSubscription, sub_id, owner, lease_owner=None,
                                          lease_until=None)


def _deliver_queue(sub_id: int, now: dt.datetime, http: requests.Session, limit: int,
                   secret_box: SecretBox) -> int:
    sent = 0
    for _ in range(limit):
        sub = db.session.get(WebhookSubscription, sub_id)
        delivery = db.session.scalar(select(WebhookDelivery).where(
            WebhookDelivery.subscription_id == sub_id, WebhookDelivery.status == "pending")
            .order_by(WebhookDelivery.change_id).limit(1))
        if delivery is None or delivery.next_attempt_at > now:
            return sent  # head of the queue waits: later changes never overtake it
        change = db.session.get(Change, delivery.change_id)
        secret = secret_box.unseal(sub.secret_sealed)
        url, body = sub.url, payload(change)
        end_read()
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
    with write_transaction():
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
                delivery.next_attempt_at = now + DELIVERY.after(delivery.attempts)
    return error is None
