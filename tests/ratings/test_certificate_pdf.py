"""The certificate PDF itself: text, fonts, rare characters, hostile names, PDF/A, signatures."""
from __future__ import annotations

import http.server
import threading
from xml.etree import ElementTree
from datetime import timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter
from sqlalchemy import update

from rating import clock
from rating.extensions import db
from rating.models import Enterprise, Rating
from rating.services.ratings import certificate_pdf, certificates, signing
from rating.platform import storage
from rating.platform.fonts import characters
from tests.support.pdf import pdf_file, pdf_fonts, pdf_pixels, pdf_text
from tests.support import disk

pytestmark = pytest.mark.integration


def rating_named(api, batch, name: str, level: int = 4) -> Rating:
    """A granted rating whose firm bears `name` exactly (set in the database: the point is what
    the renderer does with any name, whatever the registration form would accept)."""
    firm, _token = api.register_firm("320402")
    db.session.execute(update(Enterprise).where(Enterprise.id == firm["id"]).values(name=name))
    today = clock.today()
    rating = Rating(enterprise_id=firm["id"], level=level, year=today.year, batch_id=batch.id,
                    certificate_no=f"JS-{today.year}-{batch.number}-{level}-{firm['id']:06d}", granted_on=today,
                    valid_until=today + timedelta(days=3 * 365 - 1), status="valid")
    db.session.add(rating)
    db.session.flush()
    certificates.request_render(rating)
    db.session.commit()
    return rating


def rendered(rating: Rating) -> bytes:
    assert certificates.render(rating.id) == "rendered"
    db.session.expire_all()
    return disk.certificate_file(db.session.get(Rating, rating.id)).read_bytes()


@pytest.mark.parametrize("name", [
    "常州云上精密机械股份有限公司",
    "江苏𠀾𠁆云数据科技有限公司",          # extension B, in Noto CJK
    "苏州𠀁𪛖智造有限公司",                # extension B/C characters Noto lacks: HanaMin draws them
    "臺灣雲端數據資訊股份有限公司",        # traditional forms
    "无锡市锡山区某某精密机械制造股份有限公司常州分公司（一期项目部）",
])
def test_the_name_is_extracted_exactly_and_fonts_are_embedded_subsets(api, batch, name):
    data = rendered(rating_named(api, batch, name))
    lines = pdf_text(data).splitlines()
    assert name in lines
    assert "星级上云企业证书" in lines and "★★★★" in lines
    fonts = pdf_fonts(data)
    assert fonts and all(f["emb"] == "yes" and f["sub"] == "yes" and f["uni"] == "yes" for f in fonts), fonts
    assert all("+" in f["name"] for f in fonts)           # subset prefix ABCDEF+
    names = {f["name"].split("+", 1)[1] for f in fonts}
    assert "Rating-Serif-SC" in names                     # our GB 2312 subset draws the common text
    outside = [c for c in name if c not in characters()]
    if not outside:
        assert names <= {"Rating-Serif-SC", "Rating-Serif-SC-Bold"}, names
    else:                                                 # the rest falls back, glyph by glyph
        assert names - {"Rating-Serif-SC", "Rating-Serif-SC-Bold"}, names
    if "𠀁" in name:
        assert any("HanaMin" in n for n in names), names
    assert len(data) <= 300 * 1024


def test_the_short_user_agent_stylesheet_draws_what_weasyprints_own_draws(api, batch, monkeypatch):
    """The certificate is styled by `certificate_pdf.UA_CSS` in place of WeasyPrint's full
    user-agent stylesheet: its template keeps to the elements that sheet knows, and the page
    comes out pixel for pixel as WeasyPrint's own sheet draws it."""
    seen = {}

    class Capturing(certificate_pdf.CertificateHTML):
        def __init__(self, *args, **kwargs):
            seen.update(kwargs)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(certificate_pdf, "CertificateHTML", Capturing)
    rating = rating_named(api, batch, "无锡市锡山区某某精密机械制造股份有限公司常州分公司（一期项目部）", level=5)
    ours = certificate_pdf.render(rating).pdf
    tags = {element.tag for element in certificate_pdf.HTML(string=seen["string"]).etree_element.iter()
            if isinstance(element.tag, str)}
    assert {"p", "h1", "img"} <= tags
    assert tags <= certificate_pdf.UA_ELEMENTS, tags - certificate_pdf.UA_ELEMENTS
    static = certificate_pdf.static_dir()
    full = certificate_pdf.HTML(string=seen["string"], base_url=seen["base_url"],
                                url_fetcher=seen["url_fetcher"]).write_pdf(
        stylesheets=[certificate_pdf.stylesheet(static)], custom_metadata=True,
        pdf_variant=certificate_pdf.current_app.config["CERTIFICATE_PDF_VARIANT"] or None,
        font_config=certificate_pdf.fonts.font_configuration(certificate_pdf.fonts.FONTS_DIR))
    assert pdf_pixels(ours) == pdf_pixels(full)


def test_one_a4_landscape_page_with_qr_and_metadata(api, batch):
    rating = rating_named(api, batch, "常州云上精密机械股份有限公司", level=3)
    reader = PdfReader(pdf_file(rendered(rating), Path(storage.storage_root())))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width) / 72 * 25.4), round(float(box.height) / 72 * 25.4)) == (297, 210)
    meta = {str(k).lower(): str(v) for k, v in reader.metadata.items()}
    assert meta["/title"] == f"星级上云企业证书 {rating.certificate_no}"
    assert meta["/ratingcertificatepayload"] == signing.rating_payload(rating)


def test_the_qr_code_scans_to_the_signed_verify_url(api, batch, app, tmp_path):
    """The QR code is drawn one pixel per module and scaled by the page: rendered as a
    scanner or a phone would see the printed page (poppler at 150 dpi, then a real
    decoder, zxing-cpp), it reads back as the verification link with its signature."""
    import subprocess

    import zxingcpp
    from PIL import Image

    rating = rating_named(api, batch, "常州扫码查验科技有限公司")
    path = pdf_file(rendered(rating), tmp_path)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(path), str(tmp_path / "page")],
                   check=True, timeout=60)
    codes = zxingcpp.read_barcodes(Image.open(tmp_path / "page.png"))
    signature = db.session.get(type(rating.certificate), rating.id).signature
    assert [c.text for c in codes] == [
        f"{app.config['PUBLIC_BASE_URL']}/verify/{rating.certificate_no}?sig={signature}"]
    (image,) = PdfReader(str(path)).pages[0].images          # the QR code, and no other picture
    assert image.image.width < 80                             # one pixel per module (53 + border)


def test_pdf_a_3b(api, batch):
    data = rendered(rating_named(api, batch, "常州档案馆友好科技有限公司"))
    reader = PdfReader(pdf_file(data, Path(storage.storage_root()), "a.pdf"))
    root = reader.trailer["/Root"]
    intents = root["/OutputIntents"]
    assert intents[0].get_object()["/S"] == "/GTS_PDFA1"
    xmp = ElementTree.fromstring(root["/Metadata"].get_object().get_data().decode().split("?>", 1)[1]
                                 .rsplit("<?xpacket", 1)[0])
    pdfaid = "{http://www.aiim.org/pdfa/ns/id/}"
    claims = {(d.get(f"{pdfaid}part"), d.get(f"{pdfaid}conformance")) for d in xmp.iter()
              if d.get(f"{pdfaid}part")}
    assert claims == {("3", "B")}
    # PDF/A forbids what could not be archived: every font embedded, no encryption.
    assert all(f["emb"] == "yes" for f in pdf_fonts(data)) and not reader.is_encrypted
    assert data.startswith(b"%PDF-1.7") or data.startswith(b"%PDF-2")


class CountingHandler(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802
        CountingHandler.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(b"body { background: red }")

    def log_message(self, *args):
        pass


@pytest.fixture()
def listener():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CountingHandler)
    CountingHandler.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_hostile_names_render_as_text_and_fetch_nothing(api, batch, listener):
    names = ['<img src="file:///etc/passwd">',
             f'</p><style>@import url({listener}/a.css); p {{ background: url({listener}/b.png) }}</style>',
             f'<link rel="stylesheet" href="{listener}/c.css">{{{{ config }}}}']
    for name in names:
        data = rendered(rating_named(api, batch, name))
        text = "".join(pdf_text(data).split())
        assert "".join(name.split()) in text
        assert "root:" not in text
    assert CountingHandler.hits == []


def test_the_fetcher_serves_only_our_static_files(app, listener, tmp_path):
    fetcher = certificate_pdf.StaticOnlyFetcher(certificate_pdf.static_dir())
    static = certificate_pdf.static_dir().resolve()
    allowed = fetcher.fetch((static / "css" / "certificate.css").as_uri())
    assert b"@page" in allowed.read()
    allowed.close()
    outside = tmp_path / "secret.css"
    outside.write_text("secret")
    for url in ["file:///etc/passwd", f"{listener}/x.css", "https://example.com/x.png", "data:text/css,p{}",
                outside.as_uri(), (static / ".." / "rating" / "config.py").as_uri(),
                (static / "css" / ".." / ".." / "README.md").as_uri(), "ftp://127.0.0.1/x",
                (static / "css" / "certificate.css").as_uri() + "?x=1", "file://otherhost/etc/passwd"]:
        with pytest.raises(ValueError):
            fetcher.fetch(url)
    assert CountingHandler.hits == []


def test_signature_in_qr_and_metadata_checks_offline(api, batch, runner, tmp_path):
    rating = rating_named(api, batch, "常州签名验证科技有限公司")
    data = rendered(rating)
    path = pdf_file(data, tmp_path)
    good = runner.invoke(args=["certificates", "verify", str(path)])
    assert good.exit_code == 0 and "VALID" in good.output and rating.certificate_no in good.output

    published = tmp_path / "key.pem"
    published.write_text(runner.invoke(args=["certificates", "public-key"]).output)
    assert api.client.get("/verify/public-key.pem").data.strip() == published.read_bytes().strip()
    assert runner.invoke(args=["certificates", "verify", str(path), "--public-key", str(published)]).exit_code == 0

    # Someone edits the level in the metadata: the signature no longer matches.
    writer = PdfWriter(clone_from=str(path))
    meta = {str(k): str(v) for k, v in PdfReader(str(path)).metadata.items()}
    key = next(k for k in meta if k.lower() == "/ratingcertificatepayload")
    writer.add_metadata({key: meta[key].replace("|4|", "|5|")})
    forged = tmp_path / "forged.pdf"
    with open(forged, "wb") as out:
        writer.write(out)
    bad = runner.invoke(args=["certificates", "verify", str(forged)])
    assert bad.exit_code == 1 and "INVALID" in bad.output

    # Another installation's key does not vouch for ours.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    assert runner.invoke(args=["certificates", "verify", str(path), "--public-key", str(stranger)]).exit_code == 1
    assert runner.invoke(args=["certificates", "verify", str(published)]).exit_code == 1   # not a PDF

    # The QR code's signature is checked by the page it opens.
    signature = db.session.get(type(rating.certificate), rating.id).signature
    assert signing.check(signing.rating_payload(rating), signature, signing.private_key().public_key())
    page = api.client.get(f"/verify/{rating.certificate_no}?sig={signature}")
    assert "电子签名有效" in page.text
    tampered = api.client.get(f"/verify/{rating.certificate_no}?sig={signature[:-4]}AAAA")
    assert "电子签名与该证书不符" in tampered.text


def test_chinese_dates():
    from datetime import date

    assert certificate_pdf.chinese_date(date(2024, 6, 1)) == "二〇二四年六月一日"
    assert certificate_pdf.chinese_date(date(2030, 12, 31)) == "二〇三〇年十二月三十一日"
    assert certificate_pdf.chinese_date(date(2026, 10, 10)) == "二〇二六年十月十日"
    assert certificate_pdf.chinese_date(date(2026, 11, 20)) == "二〇二六年十一月二十日"
