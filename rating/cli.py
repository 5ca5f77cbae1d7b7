"""Commands: `flask --app wsgi demo seed | users create | guides load | doctor | reference load |
ratings import | audit verify | certificates …`."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

from rating.demo import seed
from rating.errors import ServiceError
from rating.extensions import db
from rating.models import User
from rating.platform.audit import remember_verified, verify
from rating.platform.doctor import run_checks
from rating.services.accounts.registration import create_staff
from rating.services.ratings import certificates, ratings, signing
from rating.services.reference import DIVISIONS_CSV, install_edition_file, load_divisions, shipped_edition_paths
from rating.services.reporting import imports


def register(app: Flask) -> None:
    app.cli.add_command(reference_cli)
    app.cli.add_command(guides_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(doctor)
    app.cli.add_command(audit_cli)
    app.cli.add_command(certificates_cli)
    app.cli.add_command(ratings_cli)


reference_cli = AppGroup("reference", help="Reference data (divisions).")
guides_cli = AppGroup("guides", help="Guide editions (the rubric).")
users_cli = AppGroup("users", help="Staff accounts.")
demo_cli = AppGroup("demo", help="Demo data.")
audit_cli = AppGroup("audit", help="The hash-chained audit log.")
certificates_cli = AppGroup("certificates", help="Certificate PDFs and their signatures.")
ratings_cli = AppGroup("ratings", help="Ratings lists.")


@reference_cli.command("load")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def reference_load(path: Path | None) -> None:
    """Load the division codes (default: the shipped Jiangsu list)."""
    written = load_divisions(path or DIVISIONS_CSV)
    db.session.commit()
    click.echo(f"divisions: {written}")


@guides_cli.command("load")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def guides_load(files: tuple[Path, ...]) -> None:
    """Load guide editions from YAML files (default: the shipped editions)."""
    failed = False
    for path in files or shipped_edition_paths():
        try:
            status = install_edition_file(path)
            db.session.commit()     # each file on its own: a bad one does not undo the others
            click.echo(f"{path.name}: {status}")
        except ServiceError as exc:
            failed = True
            click.echo(f"{path.name}: {exc.message}", err=True)
    if failed:
        sys.exit(1)


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--role", required=True, type=click.Choice(["reviewer", "expert", "official", "admin"]))
@click.option("--jurisdiction", "jurisdiction_code")
@click.option("--name")
def users_create(email: str, password: str, role: str, jurisdiction_code: str | None, name: str | None) -> None:
    """Create a staff account scoped to a division code."""
    try:
        user = create_staff(email, password, role, jurisdiction_code, name)
    except ServiceError as exc:
        raise click.ClickException(exc.message)
    db.session.commit()
    click.echo(f"created {user.role} {user.email} ({user.jurisdiction_code or 'all'})")


@demo_cli.command("seed")
def demo_seed() -> None:
    """Idempotent demo data: reference data, editions, an open batch, demo accounts."""
    lines = seed()
    db.session.commit()
    for line in lines:
        click.echo(line)


@click.command("doctor")
def doctor() -> None:
    """Check database, broker, CJK font, HarfBuzz subsetting and WeasyPrint."""
    problems = 0
    for name, ok, detail in run_checks():
        click.echo(f"[{'ok' if ok else 'FAIL'}] {name}: {detail}")
        problems += 0 if ok else 1
    if problems:
        click.echo(f"{problems} problem(s) found.", err=True)
        sys.exit(1)


@audit_cli.command("verify")
def audit_verify() -> None:
    """Recompute the audit chain; exit non-zero naming the first broken entry."""
    checked, broken = verify()
    if broken is not None:
        click.echo(f"audit chain broken at entry {broken.entry_id}: {broken.reason} "
                   f"({checked} entries before it are intact)", err=True)
        sys.exit(1)
    remember_verified(checked)      # the log browser vouches up to here without rewalking it
    db.session.commit()
    click.echo(f"audit chain intact: {checked} entries")


@certificates_cli.command("verify")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--public-key", "key_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The published public key (PEM); default: this installation's key.")
def certificates_verify(path: Path, key_path: Path | None) -> None:
    """Check a certificate PDF offline against the published public key."""
    try:
        public_key = (signing.load_public_key(key_path.read_bytes()) if key_path
                      else signing.private_key().public_key())
    except ValueError as exc:
        raise click.ClickException(f"cannot read the public key: {exc}")
    result = signing.check_pdf(path, public_key)
    if result.fields is not None:
        f = result.fields
        click.echo(f"certificate {f.certificate_no}: credit code {f.uscc}, level {f.level}, "
                   f"granted {f.granted_on}, valid until {f.valid_until}")
    if not result.ok:
        click.echo(f"INVALID: {result.message}", err=True)
        sys.exit(1)
    click.echo(f"VALID: {result.message}")


@certificates_cli.command("public-key")
def certificates_public_key() -> None:
    """Print the public key that checks certificate signatures (to publish)."""
    click.echo(signing.public_key_pem().decode().strip())


@certificates_cli.command("render")
@click.argument("certificate_no")
def certificates_render(certificate_no: str) -> None:
    """Render one certificate now, in this process (the workers normally do it)."""
    try:
        rating = ratings.by_number(certificate_no)
    except ServiceError as exc:
        raise click.ClickException(exc.message)
    if rating.certificate is None:
        certificates.request_render(rating)
        db.session.commit()
    click.echo(f"{certificate_no}: {certificates.render(rating.id)}")


@ratings_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "as_email", help="Import as this official (their scope and name in the audit log).")
def ratings_import(path: Path, as_email: str | None) -> None:
    """Import an existing ratings list (.csv UTF-8 or .xlsx); idempotent on (code, level, year)."""
    importer = None
    if as_email:
        importer = db.session.execute(select(User).where(func.lower(User.email) == as_email.strip().lower())
                                      ).scalar_one_or_none()
        if importer is None:
            raise click.ClickException(f"no user {as_email}")
    try:
        report = imports.run(path.name, path.read_bytes(), importer)
        db.session.commit()
    except ServiceError as exc:
        raise click.ClickException(exc.message)
    click.echo(report.summary)
    for number, reason in report.errors:
        click.echo(f"row {number}: {reason}")
