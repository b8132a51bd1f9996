"""The words the system stores and answers with, each defined once.

Models build their CHECK constraints from these, schemas their enums, code its tests.
Adding a value here is a schema change: a migration must widen the CHECK constraint.
"""

# HL7 FHIR Appointment statuses (a subset); "confirmed" is kept as a flag (confirmed_at).
APPOINTMENT_STATUSES = ("booked", "checked-in", "fulfilled", "cancelled", "noshow")
# Statuses whose time ranges hold the provider, room and patient.
OCCUPYING_STATUSES = ("booked", "checked-in", "fulfilled")
# Statuses that still lie ahead: reminders go out, moves are allowed.
ACTIVE_STATUSES = ("booked", "checked-in")
# Statuses that end a visit without it taking place: its time is free again.
CALLED_OFF_STATUSES = ("cancelled", "noshow")

MESSAGE_KINDS = ("confirmation", "instructions", "reminder", "moved", "cancelled")
MESSAGE_STATUSES = ("planned", "sending", "sent", "delivered", "undelivered", "failed",
                    "skipped", "voided")
TEMPLATE_VARIANTS = ("full", "short")
SMS_PROFILES = ("standard", "exemption")
REPLY_ACTIONS = ("confirm", "opt_out", "opt_in", "help", "other")

ROLES = ("admin", "front_desk", "calendar")

ROOM_KINDS = ("treatment", "therapy")
CAPABILITIES = ("prescriber", "nurse", "therapist")
CATEGORIES = ("dosing", "integration", "consultation")
CHECKPOINT_ANCHORS = ("start", "monitoring_start", "end")

CALENDAR_KINDS = ("caldav", "ics")
BUSY_SOURCES = ("appointment", "time_off", "external")
DELIVERY_STATUSES = ("pending", "delivered", "dead")
# What the change feed records, and what a webhook subscription may ask for.
CHANGE_KINDS = ("appointment.booked", "appointment.moved", "appointment.cancelled",
                "appointment.noshow", "appointment.conflict", "availability.rule_added",
                "availability.rule_removed", "time_off.added", "time_off.removed", "busy.updated")
