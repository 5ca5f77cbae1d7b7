"""Every page of the site as a user meets it, checked by the Nu HTML Checker (vnu.jar).

`crawl` follows the GET links of a logged-in test client within the site; `vnu_errors`
validates every collected document in one run of the checker, so that Java starts once."""
from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter, deque
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

from tests.support.people import csrf_token

ROOT = Path(__file__).resolve().parents[2]
# Fetched from the npm registry by `make axe` (package.json pins the version).
VNU = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"

# Not pages: files to download, and links that change the session rather than show something.
SKIPPED_SUFFIXES = (".pdf", ".csv", ".xlsx", ".pem", ".png", ".svg", ".js", ".css", ".ico", ".woff2")
SKIPPED_PARTS = ("/evidence/", "/download", "/logout", "/lang/", "/static/", "/api/")
# Links that differ only in their query (sorting, filters, pages) render the same template.
VARIANTS_PER_PATH = 3


@dataclass
class Document:
    who: str
    url: str
    html: str


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def links(html: str, base: str) -> list[str]:
    """The same-site page addresses (path and query) that the document links to."""
    parser = _Links()
    parser.feed(html)
    found = []
    for href in parser.hrefs:
        target = urlsplit(urldefrag(urljoin(base, href))[0])
        if target.scheme not in ("http", "https") or target.netloc != "localhost":
            continue
        if target.path.endswith(SKIPPED_SUFFIXES) or any(part in target.path for part in SKIPPED_PARTS):
            continue
        found.append(target.path + (f"?{target.query}" if target.query else ""))
    return found


def crawl(client, who: str, start: list[str], limit: int = 150) -> tuple[list[Document], list[str]]:
    """The HTML documents reachable by GET from `start` as `client` sees them, and the
    addresses that answered with a server error."""
    queue, seen, per_path = deque(start), set(start), Counter()
    documents: list[Document] = []
    broken: list[str] = []
    while queue and len(documents) < limit:
        address = queue.popleft()
        response = client.get(address)
        if response.status_code in (301, 302, 303, 307, 308):
            found = links(f'<a href="{response.headers["Location"]}">', f"http://localhost{address}")
        elif response.status_code >= 500:
            broken.append(f"{who} {address}: {response.status_code}")
            continue
        elif response.mimetype != "text/html":
            continue
        else:
            documents.append(Document(who, address, response.text))
            found = links(response.text, f"http://localhost{address}")
        for target in found:
            path = target.split("?")[0]
            if target in seen or per_path[path] >= VARIANTS_PER_PATH:
                continue
            seen.add(target)
            per_path[path] += 1
            queue.append(target)
    return documents, broken


def sent(client, who: str, path: str, data: dict, page: str | None = None) -> Document:
    """The page a form posted to `path` leads to (after its redirect, if any): with a refused
    form, the page that shows the errors. `page` is where the form is, if not at `path`."""
    form = client.get(page or path)
    answer = client.post(path, data={"csrf_token": csrf_token(form.text), **data}, follow_redirects=True,
                         content_type="multipart/form-data")
    assert answer.status_code < 500 and answer.mimetype == "text/html", (path, answer.status_code)
    return Document(who, f"POST {path}", answer.text)


def vnu_errors(documents: list[Document], folder: Path) -> list[str]:
    """Each error the Nu HTML Checker finds (`--errors-only`), with its page and line."""
    java = shutil.which("java")
    assert java, "no Java runtime: `make test` installs default-jre-headless"
    assert VNU.is_file(), f"{VNU} is missing: run `make axe` (npm ci) first"
    files = {}
    for number, document in enumerate(documents):
        path = folder / f"page-{number:04d}.html"
        path.write_text(document.html, encoding="utf-8")
        files[path.resolve().as_uri()] = document
    paths = [str(folder / f"page-{number:04d}.html") for number in range(len(documents))]
    run = subprocess.run([java, "-jar", str(VNU), "--errors-only", "--format", "json", *paths],
                         capture_output=True, text=True, timeout=600)
    report = json.loads(run.stderr or '{"messages": []}')
    errors = []
    for message in report["messages"]:
        document = files.get(_file_uri(message.get("url", "")))
        where = f"{document.who} {document.url}" if document else message.get("url", "?")
        extract = " ".join(message.get("extract", "").split())
        errors.append(f"{where} line {message.get('lastLine', '?')}: {message['message']}  [{extract}]")
    assert run.returncode in (0, 1) and (run.returncode == 0 or errors), run.stdout + run.stderr
    return errors


def _file_uri(url: str) -> str:
    """vnu names files `file:/tmp/…`; Path.as_uri() says `file:///tmp/…`."""
    return "file://" + url[len("file:"):] if url.startswith("file:/") and not url.startswith("file://") else url
