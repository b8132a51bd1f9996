"""flask commands: create-api-key, seed-demo, worker."""
import click
from flask import current_app

from .domain.vocabulary import ROLES
from .services.platform.transaction import write_transaction


def register_cli(app):
    @app.cli.command("create-api-key")
    @click.option("--role", required=True, type=click.Choice(ROLES))
    @click.option("--name", required=True, help="who holds the key; shown in the audit log")
    def create_api_key_command(role, name):
        """Create an API key and print it once, alone on the last line."""
        from .domain.errors import DomainError
        from .services.platform.api_keys import create_api_key

        try:
            row, key = create_api_key(name, role)
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        click.echo(f"Created {row.role} key {row.name!r} (id {row.id}). It is shown only now:")
        click.echo(key)

    @app.cli.command("seed-demo")
    def seed_demo_command():
        """Seed the demo clinic: three locations, rooms, staff, rules, patients (idempotent)."""
        from .services.clinic.demo import seed_demo

        with write_transaction():
            counts = seed_demo()
        added = ", ".join(f"{n} {what}" for what, n in counts.items() if n) or "nothing (already seeded)"
        click.echo(f"Demo clinic: added {added}.")

    @app.cli.command("seed-defaults")
    def seed_defaults_command():
        """Insert the default session types that are missing (never overwrites edits)."""
        from .services.clinic.session_types import seed_session_types

        with write_transaction():
            added = seed_session_types()
        click.echo(f"Session types: added {added}.")

    @app.cli.command("worker")
    def worker_command():
        """Run the scheduler jobs in this process (production: one or more of these)."""
        from .jobs.worker import run_worker

        run_worker(current_app._get_current_object())
