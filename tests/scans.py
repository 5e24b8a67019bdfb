"""Scanned and mixed PDFs for the OCR tests: Dutch text drawn into page images with Pillow and saved
as a PDF of images only (no text layer), the way a scanner or a Woo release delivers it."""

from __future__ import annotations

import io
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "eval"))
from hostile import text_pdf  # noqa: E402,F401  the minimal PDF writer of the hostile-file corpus: a real text layer

# Two pages on different subjects, each longer than a chunk (900 characters), so that the chunks of
# page 2 start on page 2. Facts only page 2 states: the bridge over the Berkel, March 2027, 42 metres.
PAGE_1 = (
    "Gemeente Zutphen. Raadsinformatiebrief over de renovatie van het zwembad De Vijfhoek. "
    "Het college informeert de gemeenteraad over de stand van zaken van de renovatie van het binnenbad. "
    "De werkzaamheden aan het dak en de installaties zijn in oktober begonnen en verlopen volgens planning. "
    "Tijdens de renovatie kunnen verenigingen en scholen gebruikmaken van het zwembad in Deventer. "
    "De gemeente vergoedt de extra reiskosten voor de scholen. "
    "Het college verwacht dat het binnenbad na de zomervakantie weer open gaat. "
    "De kosten blijven binnen het budget dat de raad vorig jaar beschikbaar heeft gesteld. "
    "Omwonenden ontvangen een brief over de bouwverkeer en de werktijden op het terrein. "
    "Vragen over het zwembad kunnen worden gesteld via het algemene telefoonnummer van de gemeente."
)
PAGE_2 = (
    "Vervanging van de fietsbrug over de Berkel. "
    "De houten fietsbrug over de Berkel bij de Kattenhavenstraat is versleten en wordt vervangen. "
    "De nieuwe fietsbrug wordt in maart 2027 geplaatst en is 42 meter lang. "
    "De brug krijgt een stalen constructie met een dek van beton, zodat het onderhoud goedkoper wordt. "
    "Tijdens de bouw rijden fietsers via een tijdelijke route over de Oude IJsselbrug. "
    "Het waterschap heeft toestemming gegeven voor de werkzaamheden in de rivier. "
    "De aannemer werkt van maandag tot en met vrijdag tussen zeven uur en vier uur. "
    "Bewoners van de binnenstad worden vooraf uitgenodigd voor een informatieavond in het stadhuis."
)
BRIDGE_QUESTION = "Wanneer wordt de fietsbrug over de Berkel vervangen?"
BRIDGE_WORDS = ("fietsbrug", "Berkel")  # OCR must read these on page 2


def page_image(text: str, dpi: int = 200):
    """An A4 page (greyscale) with `text` drawn on it in a plain sans-serif, like a clean scan."""
    from PIL import Image, ImageDraw, ImageFont

    width, height = round(8.27 * dpi), round(11.69 * dpi)
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=round(dpi * 0.16))  # about 11.5 pt
    y = round(dpi * 1.0)
    for paragraph in text.split("\n\n"):
        for line in textwrap.wrap(paragraph, 68):
            draw.text((round(dpi * 0.9), y), line, fill=0, font=font)
            y += round(dpi * 0.26)
        y += round(dpi * 0.2)
    return img


def scanned_pdf(pages: list[str], dpi: int = 200) -> bytes:
    """A PDF whose pages are only images of the given texts: no text layer at all."""
    images = [page_image(t, dpi) for t in pages]
    out = io.BytesIO()
    images[0].save(out, "PDF", resolution=dpi, save_all=True, append_images=images[1:])
    return out.getvalue()


def concat_pdfs(*parts: bytes) -> bytes:
    """The pages of several PDFs in one file (pypdf), e.g. a text page followed by a scanned one."""
    from pypdf import PdfReader, PdfWriter

    w = PdfWriter()
    for p in parts:
        w.append(PdfReader(io.BytesIO(p)))
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()
