"""Brands with price tiers per branch, and the item listings built from product types."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .branches import TIERS, Branch
from .taxonomy import ProductType
from .text import title_case

_BRAND_HEADS = ("North", "Oak", "Silver", "Blue", "Iron", "Stone", "Maple", "Copper", "Red", "Ever",
                "Bright", "True", "Wild", "Sun", "Moon", "Star", "Clear", "Pine", "Frost", "Gold",
                "River", "Cedar", "Summit", "Harbor", "Amber", "Willow", "Falcon", "Fox", "Lark",
                "Birch", "Ash", "Coral", "Raven", "Thistle", "Hazel", "Aspen", "Cobalt", "Velvet")
_BRAND_TAILS = ("wind", "ridge", "line", "crest", "forge", "field", "brook", "vale", "haven", "wood",
                "stone", "light", "mark", "craft", "well", "works", "port", "ford", "gate", "leaf",
                "peak", "wave", "loom", "bay", "moor", "dale", "hollow", "spire")
_TIER_PRICE = {"budget": (0.45, 0.75), "mid": (0.9, 1.25), "premium": (2.0, 3.5)}


@dataclass(frozen=True)
class Brand:
    name: str
    branch: str
    tier: str


@dataclass(frozen=True)
class Item:
    id: int
    title: str
    type_id: str
    brand: str
    tier: str
    price: float
    color: str
    material: str
    size: str | None
    audience: str | None

    def to_json(self) -> dict:
        record = {"id": self.id, "title": self.title, "type_id": self.type_id, "brand": self.brand,
                  "tier": self.tier, "price": self.price, "color": self.color, "material": self.material}
        if self.size is not None:
            record["size"] = self.size
        if self.audience is not None:
            record["audience"] = self.audience
        return record


def make_brands(branches: list[Branch], per_tier: int, rng: random.Random) -> dict[str, list[Brand]]:
    """`per_tier` brands of each tier for every branch; names are unique across the catalogue."""
    names = [head + tail for head in _BRAND_HEADS for tail in _BRAND_TAILS
             if head[-1].lower() != tail[0]]
    needed = len(branches) * per_tier * len(TIERS)
    if needed > len(names):
        raise ValueError(f"{needed} brands requested but only {len(names)} names can be formed; "
                         f"lower --brands-per-tier")
    rng.shuffle(names)
    pool = iter(names)
    return {branch.name: [Brand(next(pool), branch.name, tier) for tier in TIERS for _ in range(per_tier)]
            for branch in branches}


def audience_label(audience: str) -> str:
    return {"men": "Men's", "women": "Women's", "kids": "Kids'"}[audience]


def _title(product_type: ProductType, brand: str, color: str, material: str,
           size: str | None, audience: str | None, style: int) -> str:
    name = title_case(product_type.name)
    color_t, material_t = title_case(color), title_case(material)
    who = f"{audience_label(audience)} " if audience else ""
    if product_type.branch.name == "toiletries":
        return (f"{brand} {name} with {material_t}, {color_t}" if style == 0
                else f"{brand} {material_t} {name} ({color_t})")
    size_t = f", Size {size}" if size else ""
    if style == 0:
        return f"{brand} {who}{color_t} {material_t} {name}{size_t}"
    if style == 1:
        return f"{brand} {who}{material_t} {name} in {color_t}{size_t}"
    return f"{brand} {name}, {who}{material_t}, {color_t}{size_t}"


def make_items(types: list[ProductType], brands: dict[str, list[Brand]], num_items: int,
               rng: random.Random) -> list[Item]:
    """Items spread evenly over types. Every type gets each tier at least once (needed by
    alternative queries) and a type-specific subset of its branch's materials and colours."""
    if num_items < 3 * len(types):
        raise ValueError(f"--num-items {num_items} is too small for {len(types)} types: need at least "
                         f"3 per type (one per price tier)")
    items: list[Item] = []
    base, extra = divmod(num_items, len(types))
    for index, product_type in enumerate(types):
        branch = product_type.branch
        count = base + (1 if index < extra else 0)
        materials = rng.sample(branch.materials, min(len(branch.materials), rng.randint(3, 5)))
        colors = rng.sample(branch.colors, min(len(branch.colors), rng.randint(3, 6)))
        audiences = rng.sample(branch.audiences, rng.randint(1, len(branch.audiences))) \
            if branch.audiences else [None]
        base_price = rng.uniform(*branch.price_range)
        by_tier = {tier: [b for b in brands[branch.name] if b.tier == tier] for tier in TIERS}
        type_brands = {tier: rng.sample(pool, min(2, len(pool))) for tier, pool in by_tier.items()}
        for k in range(count):
            tier = TIERS[k % len(TIERS)]
            brand = rng.choice(type_brands[tier])
            color, material = rng.choice(colors), rng.choice(materials)
            audience = rng.choice(audiences)
            size = rng.choice(branch.sizes) if branch.sizes else None
            price = max(round(base_price * rng.uniform(*_TIER_PRICE[tier])) - 0.01, 0.99)
            title = _title(product_type, brand.name, color, material, size, audience, rng.randrange(3))
            items.append(Item(len(items), title, product_type.type_id, brand.name, tier, round(price, 2),
                              color, material, size, audience))
    return items
