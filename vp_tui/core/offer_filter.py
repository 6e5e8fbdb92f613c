"""The offer filter language of the offers table, and an index that filters 20,000 offers fast.

A filter is a line of whitespace-separated tokens; every token narrows (AND), except
platform words, which widen each other (``vast runpod`` shows both). Case never matters.

============================  ===========================================================
token                         keeps offers ...
============================  ===========================================================
``4090``, ``a100``, ``us``    whose GPU (catalog or provider spelling), platform,
                              location or cloud contains the word (``4090`` matches
                              "RTX 4090"; ``rtx4090`` works too)
``-word``, ``!word``          whose text does *not* contain the word
``<0.5``, ``<=0.5``, ``>1``   priced below / at most / above $0.5 per hour (all GPUs);
                              also ``>=``, ``=``, and spelled ``$<0.5``, ``price<0.5``,
                              ``<$0.5`` or ``<0.5/h``
``vram>=24``, ``vram>40``     with at least / more than that many GB per GPU (compared in
                              whole GB, so a 23.99 GB card counts as 24); ``>=24gb`` too
``gpus=2``, ``x2``, ``2x``    with that many GPUs; ``gpus>=4`` etc.; also ``gpu=``, ``n=``
``rel>0.99``, ``rel>=99``     with a reliability above the bound (values above 1 are
                              percent); offers without a reliability never match a bound
``vast``, ``runpod``          on that platform (``vastai``, ``vast.ai`` also name Vast)
``spot``, ``interruptible``   interruptible (bid) offers only (``bid``, ``preemptible``)
``ondemand``, ``on-demand``   on-demand offers only
============================  ===========================================================

Spaces after a field name or an operator are allowed (``price < 0.5``, ``vram >= 24``).
Parsing never fails: a token that is none of the above (``<abc``, ``vram``) is searched
for as text, which usually matches nothing and so shows the user the filter is off.
Where a filter must not quietly match nothing (``vp watch``, price alerts),
:func:`unknown_tokens` names such tokens so they can be refused.

:class:`OfferIndex` prepares offers once (search text, numeric columns, one order per sort
key) so that applying a filter is a few list comprehensions over plain Python values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from vp_tui.core.models import Offer
from vp_tui.core.ranking import (
    DEFAULT_SORT,
    OFFER_SORTS,
    SORTS,
    Cheapness,
    OfferSort,
    SortKey,
    cheapness,
    natural_descending,
    sort_keys,
)

__all__ = [
    "DEFAULT_SORT",
    "OFFER_SORTS",
    "SORTS",
    "Bound",
    "BoundField",
    "BoundOp",
    "OfferFacts",
    "OfferFilter",
    "OfferIndex",
    "OfferSort",
    "filter_offers",
    "offer_facts",
    "parse_filter",
    "unknown_tokens",
]

BoundField = Literal["price", "vram", "gpus", "rel"]
"""The numbers a filter can bound."""

BoundOp = Literal["<", "<=", ">", ">=", "="]
"""Comparison operators of the filter language."""


@dataclass(frozen=True, slots=True)
class Bound:
    """One numeric condition, e.g. price < 0.5 or vram >= 24."""

    field: BoundField
    op: BoundOp
    value: float

    def test(self, number: float) -> bool:
        """Whether ``number`` satisfies the bound (NaN, meaning unknown, never does)."""
        op, value = self.op, self.value
        if op == "<":
            return number < value
        if op == "<=":
            return number <= value
        if op == ">":
            return number > value
        if op == ">=":
            return number >= value
        return number == value

    def __str__(self) -> str:
        return f"{self.field}{self.op}{self.value:g}"


class OfferFacts(NamedTuple):
    """What the filter looks at in one offer, computed once."""

    text: str
    """Lower-case search text: GPU names, platform, location, cloud."""
    platform: str
    price: float
    """$/h for all GPUs."""
    vram: float
    """GB per GPU, rounded to whole GB."""
    gpus: float
    rel: float
    """Reliability 0..1, NaN when unknown."""
    interruptible: bool


_COMPACT = re.compile(r"[\s_\-]+")


def _search_text(
    platform: str, gpu_raw: str, gpu: str | None, location: str | None, cloud: str | None
) -> str:
    parts = [platform, gpu_raw]
    if gpu:
        parts.append(gpu)
        parts.append(_COMPACT.sub("", gpu))
    parts.append(_COMPACT.sub("", gpu_raw))
    if location:
        parts.append(location)
    if cloud:
        parts.append(cloud)
    return " ".join(parts).lower()


def offer_facts(offer: Offer) -> OfferFacts:
    """The facts of ``offer`` the filter tests."""
    return OfferFacts(
        text=_search_text(offer.platform, offer.gpu_raw, offer.gpu, offer.location, offer.cloud),
        platform=offer.platform,
        price=offer.price_per_hour,
        vram=float(round(offer.vram_gb)),
        gpus=float(offer.gpu_count),
        rel=math.nan if offer.reliability is None else offer.reliability,
        interruptible=offer.interruptible,
    )


_PLATFORM_WORDS = {"vast": "vast", "vastai": "vast", "vast.ai": "vast", "runpod": "runpod"}
_SPOT_WORDS = {"spot", "interruptible", "bid", "preemptible"}
_ONDEMAND_WORDS = {"ondemand", "on-demand", "on_demand"}
_FIELDS: dict[str, BoundField] = {
    "": "price",
    "$": "price",
    "price": "price",
    "vram": "vram",
    "mem": "vram",
    "gpus": "gpus",
    "gpu": "gpus",
    "n": "gpus",
    "count": "gpus",
    "rel": "rel",
    "reliability": "rel",
}
_BOUND = re.compile(
    r"(?P<field>[a-z]*|\$)(?P<op><=|>=|==|=|<|>)\$?"
    r"(?P<num>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?P<unit>gb|g|/h)?"
)
_COUNT = re.compile(r"x(?P<a>[0-9]{1,3})|(?P<b>[0-9]{1,3})x")
_JOIN_FIELD = re.compile(
    r"(?<![^\s])(price|vram|mem|gpus|gpu|n|count|rel|reliability|\$)\s+(?=[<>=])"
)
_JOIN_OP = re.compile(r"(<=|>=|==|=|<|>)\s+(?=[$.0-9])")


def _bound(token: str) -> Bound | None:
    match = _BOUND.fullmatch(token)
    if match is None:
        count = _COUNT.fullmatch(token)
        if count is None:
            return None
        return Bound("gpus", "=", float(count.group("a") or count.group("b")))
    field_name, unit = match.group("field"), match.group("unit")
    field = _FIELDS.get(field_name)
    if field is None:
        return None
    if unit in ("gb", "g"):
        if field_name == "":
            field = "vram"
        elif field != "vram":
            return None
    elif unit == "/h" and field != "price":
        return None
    try:
        value = float(match.group("num"))
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    if field == "rel" and value > 1:
        value /= 100.0
    op = match.group("op")
    return Bound(field, "=" if op == "==" else op, value)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class OfferFilter:
    """A parsed filter line; see the module docstring for the language."""

    text: str = ""
    """The line as typed."""
    terms: tuple[str, ...] = ()
    """Words every offer's search text must contain."""
    excluded: tuple[str, ...] = ()
    """Words an offer's search text must not contain."""
    bounds: tuple[Bound, ...] = ()
    platforms: frozenset[str] = frozenset()
    """Platforms to keep; empty for all."""
    interruptible: bool | None = None
    """True: interruptible only, False: on-demand only, None: both."""

    @property
    def is_empty(self) -> bool:
        """Whether the filter keeps every offer."""
        return not (
            self.terms
            or self.excluded
            or self.bounds
            or self.platforms
            or self.interruptible is not None
        )

    def matches(self, offer: Offer) -> bool:
        """Whether ``offer`` passes the filter."""
        return self.matches_facts(offer_facts(offer))

    def matches_facts(self, facts: OfferFacts) -> bool:
        """Whether an offer with these prepared facts passes the filter."""
        if self.platforms and facts.platform not in self.platforms:
            return False
        if self.interruptible is not None and facts.interruptible != self.interruptible:
            return False
        for bound in self.bounds:
            if not bound.test(getattr(facts, bound.field)):
                return False
        text = facts.text
        return all(term in text for term in self.terms) and not any(
            word in text for word in self.excluded
        )


def parse_filter(text: str) -> OfferFilter:
    """The filter a line of text means; never raises (unknown tokens become text terms)."""
    if not isinstance(text, str):
        return OfferFilter()
    line = _JOIN_OP.sub(r"\1", _JOIN_FIELD.sub(r"\1", text.lower()))
    terms: list[str] = []
    excluded: list[str] = []
    bounds: list[Bound] = []
    platforms: set[str] = set()
    spot = ondemand = False
    for token in line.split():
        if token in _PLATFORM_WORDS:
            platforms.add(_PLATFORM_WORDS[token])
        elif token in _SPOT_WORDS:
            spot = True
        elif token in _ONDEMAND_WORDS:
            ondemand = True
        elif token[0] in "-!" and len(token) > 1:
            excluded.append(token[1:])
        elif (bound := _bound(token)) is not None:
            bounds.append(bound)
        elif token not in terms:
            terms.append(token)
    return OfferFilter(
        text=text,
        terms=tuple(terms),
        excluded=tuple(excluded),
        bounds=tuple(bounds),
        platforms=frozenset(platforms),
        interruptible=spot if spot != ondemand else None,
    )


_OPERATORS = frozenset("<>=")
_NAMES = frozenset(name for name in _FIELDS if name) | {"$"}


def unknown_tokens(text: str) -> list[str]:
    """The tokens of a filter line that are meant as something the language does not know.

    Those are tokens with a comparison operator that are not a valid bound (``<abc``,
    ``vram>x``, ``foo<2``, ``<0,3``), a reliability bound that cannot be meant (``rel>2``:
    above 1 it is read as percent, and a value below 10 or above 100 is no plausible
    percent), a field name on its own (``vram``, ``price``) and a bare ``-`` or ``!``.
    Plain words are searches and always understood.
    """
    line = _JOIN_OP.sub(r"\1", _JOIN_FIELD.sub(r"\1", text.lower()))
    unknown: list[str] = []
    for token in line.split():
        if token in _PLATFORM_WORDS or token in _SPOT_WORDS or token in _ONDEMAND_WORDS:
            continue
        word = token[1:] if token[0] in "-!" else token
        misread = _OPERATORS.intersection(word) and (word != token or _bound(word) is None)
        if not word or word in _NAMES or misread or _implausible_reliability(word):
            unknown.append(token)
    return unknown


def _implausible_reliability(token: str) -> bool:
    """Whether ``token`` bounds reliability by a number that is neither a fraction (0..1)
    nor a plausible percent (10..100)."""
    match = _BOUND.fullmatch(token)
    if match is None or _FIELDS.get(match.group("field")) != "rel":
        return False
    try:
        value = float(match.group("num"))
    except ValueError:
        return False
    return 1 < value < 10 or value > 100


_Column = list[float]


class OfferIndex:
    """Offers prepared once for fast filtering and sorting.

    Building one for 20,000 offers takes tens of milliseconds, so the dashboard builds it
    in the worker that fetched the offers and hands it to the table ready-made.
    ``select(filter, sort, descending)`` returns positions into :attr:`offers` in that order.
    """

    def __init__(self, offers: Iterable[Offer], *, sorts: Iterable[OfferSort] = ()) -> None:
        """Prepare ``offers``; the orders named in ``sorts`` (in their natural direction) and
        the default order of the table are computed now, others on first use."""
        self.offers: tuple[Offer, ...] = tuple(offers)
        texts: dict[tuple[str, str, str | None, str | None, str | None], int] = {}
        self.texts: list[str] = []
        """Distinct search texts (many offers share one)."""
        self.text_ids: list[int] = []
        """Offer position -> index into :attr:`texts`."""
        self.platforms: list[str] = []
        self.interruptible: list[bool] = []
        prices: list[float] = []
        vrams: list[float] = []
        counts: list[float] = []
        rels: list[float] = []
        best: dict[str, Cheapness] = {}
        best_of_kind: dict[tuple[str, bool], Cheapness] = {}
        groups: dict[tuple[str, str], int] = {}
        self.group_ids: list[int] = []
        """Offer position -> id of its (GPU model, platform), -1 when the model is unknown."""
        self.cheapness: list[Cheapness] = []
        """Offer position -> how cheap it is (:func:`~vp_tui.core.ranking.cheapness`)."""
        nan = math.nan
        for offer in self.offers:
            platform, gpu = offer.platform, offer.gpu
            text_key = (platform, offer.gpu_raw, gpu, offer.location, offer.cloud)
            text_id = texts.get(text_key)
            if text_id is None:
                text_id = texts[text_key] = len(self.texts)
                self.texts.append(_search_text(*text_key))
            self.text_ids.append(text_id)
            self.platforms.append(platform)
            self.interruptible.append(offer.interruptible)
            price, count, reliability = offer.price_per_hour, offer.gpu_count, offer.reliability
            prices.append(price)
            vrams.append(float(round(offer.vram_gb)))
            counts.append(float(count))
            rels.append(nan if reliability is None else reliability)
            rating = cheapness(offer)
            self.cheapness.append(rating)
            if gpu is None:
                self.group_ids.append(-1)
            else:
                group = groups.get((gpu, platform))
                if group is None:
                    group = groups[(gpu, platform)] = len(groups)
                self.group_ids.append(group)
                current = best.get(gpu)
                if current is None or rating < current:
                    best[gpu] = rating
                kind = (gpu, offer.interruptible)
                current = best_of_kind.get(kind)
                if current is None or rating < current:
                    best_of_kind[kind] = rating
        self._columns: dict[BoundField, _Column] = {
            "price": prices,
            "vram": vrams,
            "gpus": counts,
            "rel": rels,
        }
        self.cheapest: frozenset[str] = frozenset(key for _, _, key in best.values())
        """Keys of the cheapest offer per GPU-hour of each GPU model (the ★, as
        :func:`~vp_tui.core.ranking.cheapest_keys`)."""
        self.cheapest_of_kind: frozenset[str] = frozenset(
            key for _, _, key in best_of_kind.values()
        )
        """Keys of the cheapest offer per GPU-hour of each GPU model and kind (on-demand,
        spot): the ★ of the offers table, first of its model in the default order."""
        self.keys: list[str] = [key for _, _, key in self.cheapness]
        """Offer position -> its key."""
        self.positions: dict[str, int] = {key: i for i, key in enumerate(self.keys)}
        """Offer key -> position in :attr:`offers`."""
        self._group_count = len(groups)
        self._orders: dict[tuple[OfferSort, bool], list[int]] = {}
        self._kind_orders: dict[tuple[OfferSort, bool, bool], list[int]] = {}
        for sort in (DEFAULT_SORT, *sorts):
            self.order(sort)
        self._kind_order(DEFAULT_SORT, None, False)  # the offers table's first view

    def __len__(self) -> int:
        return len(self.offers)

    def order(self, sort: OfferSort, descending: bool | None = None) -> list[int]:
        """Every position, in ``sort`` order (computed once per sort and direction; do not
        modify).

        The order of :func:`~vp_tui.core.ranking.rank`: ``descending`` None is the sort's
        natural direction; unknown values last either way, ties broken by the cheaper
        offer, then the offer key.
        """
        down = natural_descending(sort) if descending is None else descending
        order = self._orders.get((sort, down))
        if order is None:
            keys: list[SortKey] = sort_keys(self.offers, sort, down)
            order = sorted(range(len(keys)), key=keys.__getitem__)
            self._orders[(sort, down)] = order
        return order

    def select(
        self, flt: OfferFilter, sort: OfferSort = "price", descending: bool | None = None
    ) -> list[int]:
        """Positions of the offers passing ``flt``, in ``sort`` order (a new list)."""
        if flt.interruptible is None:
            rows = self.order(sort, descending)
        else:
            rows = self._kind_order(sort, descending, flt.interruptible)
        ordered = rows
        if flt.terms or flt.excluded:
            terms, excluded = flt.terms, flt.excluded
            ok = [
                all(term in text for term in terms) and not any(word in text for word in excluded)
                for text in self.texts
            ]
            text_ids = self.text_ids
            rows = [i for i in rows if ok[text_ids[i]]]
        if flt.platforms:
            platforms, wanted = self.platforms, flt.platforms
            rows = [i for i in rows if platforms[i] in wanted]
        for bound in flt.bounds:
            rows = _apply_bound(rows, self._columns[bound.field], bound)
        return rows if rows is not ordered else list(rows)

    def _kind_order(self, sort: OfferSort, descending: bool | None, spot: bool) -> list[int]:
        """The positions of spot (or on-demand) offers only, in ``sort`` order (cached: the
        offers table shows one kind by default, so every keystroke starts from these)."""
        down = natural_descending(sort) if descending is None else descending
        key = (sort, down, spot)
        rows = self._kind_orders.get(key)
        if rows is None:
            kinds = self.interruptible
            rows = [i for i in self.order(sort, down) if kinds[i] is spot]
            self._kind_orders[key] = rows
        return rows

    def best_per_model(self, rows: Iterable[int], interruptible: bool | None = None) -> list[int]:
        """Of ``rows``, the cheapest offer per GPU-hour of each (GPU model, platform).

        Only interruptible (True) or on-demand (False) offers count, or both (None).
        Cheapest is :func:`~vp_tui.core.ranking.cheapness` (ties broken the same way), and
        the result keeps the order in which the (model, platform) pairs first appear in
        ``rows``, so ``compare_by_gpu`` over these few offers gives what it gives over all
        of ``rows``. Unknown models are left out.
        """
        best_row = [-1] * self._group_count
        seen: list[int] = []
        group_ids, ratings, spot = self.group_ids, self.cheapness, self.interruptible
        for i in rows:
            group = group_ids[i]
            if group < 0 or (interruptible is not None and spot[i] is not interruptible):
                continue
            current = best_row[group]
            if current < 0:
                seen.append(group)
                best_row[group] = i
            elif ratings[i] < ratings[current]:
                best_row[group] = i
        return [best_row[group] for group in seen]


def _apply_bound(rows: Sequence[int], column: _Column, bound: Bound) -> list[int]:
    op, v = bound.op, bound.value
    if op == "<":
        return [i for i in rows if column[i] < v]
    if op == "<=":
        return [i for i in rows if column[i] <= v]
    if op == ">":
        return [i for i in rows if column[i] > v]
    if op == ">=":
        return [i for i in rows if column[i] >= v]
    return [i for i in rows if column[i] == v]


def filter_offers(offers: Iterable[Offer], text: str) -> list[Offer]:
    """The offers matching the filter line ``text``, in their given order."""
    flt = parse_filter(text)
    keep: Callable[[Offer], bool] = flt.matches
    return [offer for offer in offers if keep(offer)]
