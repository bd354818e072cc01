"""Typing of property values: `"24 Months"` is the number 24 in months, `"Yes"` is true, `"Blue, Green, Red"` is a
list. Units are generic measurement units (not any shop's words); each belongs to a dimension so that "fastest"
can find a speed and "heaviest" a weight in whatever catalog is loaded."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# unit spelling -> (canonical unit, dimension)
_UNITS: dict[str, tuple[str, str]] = {}


def _units(dimension: str, groups: str) -> None:
    for group in groups.split(";"):
        spellings = group.split()
        for spelling in spellings:
            _UNITS[spelling] = (spellings[0], dimension)


_units("speed", "mbps mb/s mbit/s mbits/s; gbps gb/s gbit/s; kbps kb/s kbit/s; km/h kmh kph; mph; rpm; fps; knots")
_units(
    "duration",
    "months month mo mos; years year yr yrs; weeks week wk; days day d; hours hour h hr hrs; "
    "minutes minute min mins; seconds second sec secs s",
)
_units(
    "weight",
    "kg kilogram kilograms kilo kilos; g gram grams; mg; lbs lb pound pounds; oz ounce ounces; t ton tons tonne tonnes",
)
_units("length", "m meter meters metre metres; cm; mm; km; in inch inches; ft feet foot; yd yard yards; mi mile miles")
_units(
    "size",
    "gb gigabyte gigabytes; tb terabyte terabytes; mb megabyte megabytes; kb; ml; l liter liters litre "
    "litres; gal gallon gallons",
)
_units("power", "w watt watts; kw; mah; wh; kwh; v volt volts; hp")
_units("share", "% percent")
_units("money", "eur € euro euros; usd $ dollar dollars; gbp £; chf; sek; nok; dkk; pln; cad; aud; jpy ¥")
_units("count", "x pcs pieces units pack")
_units("extent", "pages page")  # how long a book or document is
_DATE_WORDS = frozenset("year month day week date".split())
_UNITS["year"] = ("year", "date")  # a calendar year, from a key such as "Publication Year"

# canonical unit -> (family, factor to the family's base unit): one attribute may say "500 g" and "1.2 kg"
_SCALES: dict[str, tuple[str, float]] = {}


def _scale(family: str, factors: str) -> None:
    for pair in factors.split():
        unit, factor = pair.split("=")
        _SCALES[unit] = (family, float(factor))


_scale("data rate", "kbps=0.001 mbps=1 gbps=1000")
_scale("road speed", "km/h=1 mph=1.609344 knots=1.852")
_scale(
    "duration", "seconds=0.0000115741 minutes=0.000694444 hours=0.0416667 days=1 weeks=7 months=30.4375 years=365.25"
)
_scale("weight", "mg=0.000001 g=0.001 kg=1 t=1000 oz=0.0283495 lbs=0.453592")
_scale("length", "mm=0.001 cm=0.01 m=1 km=1000 in=0.0254 ft=0.3048 yd=0.9144 mi=1609.344")
_scale("data size", "kb=0.000001 mb=0.001 gb=1 tb=1000")
_scale("volume", "ml=0.001 l=1 gal=3.78541")
_scale("power", "w=1 kw=1000 hp=745.7")


def in_base_unit(number: float, unit: str | None) -> float:
    """`number` in its family's base unit (24 months -> 730.5 days); unchanged for a unit without a scale."""
    scale = _SCALES.get(unit or "")
    return number * scale[1] if scale else number


def same_family(unit: str | None, other: str | None) -> bool:
    return unit == other or (unit in _SCALES and other in _SCALES and _SCALES[unit][0] == _SCALES[other][0])


# English words that ask for a measurement, by dimension ("how fast", "the heaviest"): "long" may be a duration or
# a length, tried in that order
DIMENSION_WORDS = {
    "speed": "fast faster fastest quick quicker quickest slow slower slowest speed",
    "duration": "long longer longest short shorter shortest duration",
    "length": "long longer longest short shorter shortest wide wider widest narrow narrower narrowest tall taller "
    "tallest length width height",
    "weight": "heavy heavier heaviest light lighter lightest weigh weighs weight",
    "size": "big bigger biggest large larger largest small smaller smallest size capacity",
    "power": "strong stronger strongest powerful power",
    "extent": "long longer longest short shorter shortest thick thickest thin thinnest",
    "date": "new newer newest latest recent old older oldest early earlier earliest",
}

UNLIMITED_WORDS = frozenset(["unlimited", "infinite", "no limit"])
TRUE_WORDS = frozenset("yes true y included available".split())
FALSE_WORDS = frozenset("no false n none excluded unavailable".split())
_NUMBER_RE = re.compile(
    r"^(?:up to|upto|from|about|approx\.?|approximately|max\.?|min\.?|~|<|>)?\s*"
    r"([-+]?\d+(?:[.,]\d+)?)\s*([a-z%$€£¥][a-z%/.\s]{0,24})?$",
    re.I,
)
_KEY_SPLIT_RE = re.compile(r"[_\s\-]+")


@dataclass(frozen=True, slots=True)
class Typed:
    kind: str  # "number" | "bool" | "list" | "text"
    number: float | None = None
    unit: str | None = None  # canonical unit ("months", "mbps", "%"), or the value's own word
    flag: bool | None = None
    items: tuple[str, ...] = ()  # a list's values; a text's single value
    text: str = ""  # as written, for display


def unit_of(word: str) -> tuple[str, str] | None:
    """(canonical unit, dimension) of a unit spelling, or None."""
    return _UNITS.get(word.strip().lower().rstrip("."))


def dimension_of(unit: str | None) -> str | None:
    found = unit_of(unit) if unit else None
    return found[1] if found else None


def key_words(key: str) -> list[str]:
    return [w for w in _KEY_SPLIT_RE.split(str(key).lower()) if w]


def unit_from_key(key: str) -> str | None:
    """`download_mbps` -> mbps, `contract_term_months` -> months, `Pages` -> pages: a key that ends in a unit
    names it. A singular time word names a date, not a duration (`Publication Year`, `model_year`)."""
    words = key_words(key)
    if not words or (len(words) == 1 and not words[0].endswith("s")):
        return None
    if words[-1] in _DATE_WORDS:
        return "year" if words[-1] == "year" else None
    found = unit_of(words[-1])
    return found[0] if found and found[1] != "count" else None


def label(key: str) -> str:
    """A property key as a reader sees it: `contract_term_months` -> `Contract term months`."""
    text = " ".join(key_words(key)) if "_" in str(key) else str(key).strip()
    return text[:1].upper() + text[1:]


def _number(text: str) -> float:
    return float(text.replace(",", "."))


def parse_unit(text: str | None, key_unit: str | None) -> str | None:
    if not text:
        return key_unit
    text = " ".join(text.lower().split())
    found = unit_of(text) or unit_of(text.split(" ", 1)[0])
    return found[0] if found else text


def _is_quantity(text: str, unit: str | None) -> bool:
    """Whether `number unit` is a measurement: a known unit (`10Mb/s`, `99.9% per month`) or one plain word after
    a space (`200 channels`); not a name such as `5G` or `WiFi 6`."""
    if not unit:
        return True
    words = unit.lower().split()
    if (
        "," in unit
        or not words
        or (unit_of(words[0]) is None and (len(words) > 1 or not text[-len(unit) - 1].isspace()))
    ):
        return False
    glued_letter = len(words[0]) == 1 and unit[0].isupper() and not text[-len(unit) - 1].isspace()
    return not glued_letter and len(words) <= 3


def typed(raw: object, key: str = "") -> Typed:
    """The typed reading of one property value."""
    if isinstance(raw, bool):
        return Typed("bool", flag=raw, text="yes" if raw else "no")
    if isinstance(raw, (int, float)):
        if isinstance(raw, float) and not math.isfinite(raw):
            return Typed("text", items=(str(raw),), text=str(raw))
        return Typed("number", number=float(raw), unit=unit_from_key(key), text=f"{raw:g}")
    text = " ".join(str(raw if raw is not None else "").split())
    lowered = text.lower()
    if lowered in TRUE_WORDS or lowered in FALSE_WORDS:
        return Typed("bool", flag=lowered in TRUE_WORDS, text=text)
    if lowered in UNLIMITED_WORDS:  # more than any number: "the most data" is the unlimited plan
        return Typed("number", number=math.inf, unit=unit_from_key(key), text=text)
    match = _NUMBER_RE.match(text)
    if match and _is_quantity(text, match.group(2)):
        return Typed(
            "number", number=_number(match.group(1)), unit=parse_unit(match.group(2), unit_from_key(key)), text=text
        )
    if "," in text or ";" in text:
        items = tuple(i.strip() for i in re.split(r"[,;]", text) if i.strip())
        if len(items) > 1 and all(len(i.split()) <= 4 for i in items):
            return Typed("list", items=items, text=text)
    return Typed("text", items=(text,) if text else (), text=text)


def format_number(value: float) -> str:
    return f"{value:.2f}" if value != int(value) else f"{int(value)}"


def show(value: Typed) -> str:
    """A value in an answer: `24 months`, `yes`, `Blue, Green, Red`."""
    if value.kind == "number" and value.number is not None:
        if value.text and not value.text.replace(".", "").replace(",", "").isdigit():
            return value.text
        return f"{format_number(value.number)} {value.unit}" if value.unit else format_number(value.number)
    return value.text
