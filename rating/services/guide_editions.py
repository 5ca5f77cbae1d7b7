"""Guide editions as administrators keep them: the list with the batches that use each, the
source document as loaded, and uploads checked completely (an edition in use never
changes: a new version gets a new code)."""
from __future__ import annotations

import json
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select

from rating.errors import Conflict, Forbidden, ValidationFailed
from rating.extensions import db
from rating.models import Batch, GuideEdition, User
from rating.permissions import can_manage_editions
from rating.platform import audit
from rating.rules.edition_check import MEDIA_TYPES, SourceError, line_of, parsed, problems, read_source, yaml_lines
from rating.services.reference import get_edition, install_edition

MAX_SOURCE_CHARS = 1_000_000


@dataclass(frozen=True)
class Listed:
    code: str
    title: str
    levels: tuple[int, ...]
    batches: tuple[Batch, ...]

    @property
    def in_use(self) -> bool:
        return bool(self.batches)


def listing() -> list[Listed]:
    """Every edition, newest code last, with the batches that use it (two queries)."""
    records = db.session.execute(select(GuideEdition.code, GuideEdition.title).order_by(GuideEdition.code)).all()
    users: dict[str, list[Batch]] = {}
    for batch in db.session.execute(select(Batch).order_by(Batch.opens_at)).scalars():
        users.setdefault(batch.edition_code, []).append(batch)
    return [Listed(code, title, tuple(sorted(get_edition(code).levels)), tuple(users.get(code, ())))
            for code, title in records]


def source_of(code: str) -> tuple[str, str]:
    """(the document as loaded, its media type); an edition stored before sources were kept
    answers its stored document as JSON."""
    get_edition(code)                      # 404 for an unknown code
    record = db.session.get(GuideEdition, code)
    if record.source is not None:
        return record.source, record.source_type
    return json.dumps(record.document, ensure_ascii=False, indent=2), "application/json"


def media_type_of(content_type: str | None) -> str | None:
    """The edition media type a request's Content-Type names (YAML's aliases too), or None."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in ("text/yaml", "application/yaml", "application/x-yaml", "text/x-yaml"):
        return "text/yaml"
    return kind if kind in MEDIA_TYPES else None


def check(text: str, media_type: str):
    """The edition in `text`; ValidationFailed naming every problem by path (and line)."""
    if media_type not in MEDIA_TYPES:
        raise ValidationFailed(_("请以 YAML（text/yaml）或 JSON（application/json）提交指南文件。"),
                               {"source": [_("不支持的文件类型。")]})
    if len(text) > MAX_SOURCE_CHARS:
        raise ValidationFailed(_("指南文件过大。"), {"source": [_("指南文件过大。")]})
    try:
        document = read_source(text, media_type)
    except SourceError as exc:
        where = _("第 %(line)s 行：", line=exc.line) if exc.line else ""
        raise ValidationFailed(_("指南文件无法解析：%(where)s%(error)s", where=where, error=str(exc).splitlines()[0]),
                               {"source": [str(exc)]})
    found = problems(document)
    if found:
        lines = yaml_lines(text) if media_type == "text/yaml" else {}
        listed = []
        for path, message in found.items():
            line = line_of(path, lines)
            listed.append(_("第 %(line)s 行 %(path)s：%(message)s", line=line, path=path or "/", message=message)
                          if line else f"{path or '/'}: {message}")
        raise ValidationFailed(_("指南文件有 %(count)s 处问题：%(problems)s", count=len(found),
                                 problems="；".join(listed)),
                               {path or "source": [message] for path, message in found.items()})
    return parsed(document)


def upload(user: User, text: str, media_type: str) -> str:
    """Store a new edition from its source; 409 when its code exists. Returns the code."""
    if not can_manage_editions(user):
        raise Forbidden(_("只有系统管理员可以上传指南版本。"))
    edition = check(text, media_type)
    if db.session.get(GuideEdition, edition.code) is not None:
        raise Conflict(_("指南版本 %(code)s 已存在；已使用的版本不能修改，请以新的版本代码上传。", code=edition.code),
                       {"code": [_("版本代码已存在。")]})
    install_edition(edition, text, media_type)
    audit.append("guide_edition.upload", "guide_edition", edition.code, user.id, sha256=edition.sha256,
                 title=edition.title, media_type=media_type)
    return edition.code
