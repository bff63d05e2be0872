"""Commerce branches of the WordNet noun hierarchy and the attributes that make sense for each.

A branch is one shop department: the WordNet synsets whose hyponym leaves become its product
types, and the attribute vocabularies its listings draw from. Offsets were looked up in
WordNet 3.0's index.noun / data.noun (wordnet-base), not guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

APPAREL_SIZES = ("XS", "S", "M", "L", "XL", "XXL")
SHOE_SIZES = ("5", "6", "7", "8", "9", "10", "11", "12")
BED_SIZES = ("Twin", "Full", "Queen", "King")
HAT_SIZES = ("S", "M", "L")
PEOPLE = ("men", "women", "kids")

BASIC_COLORS = ("black", "white", "grey", "navy", "red", "blue", "green", "beige", "brown", "pink")
DEVICE_COLORS = ("black", "white", "silver", "graphite", "blue", "red")
WOOD_COLORS = ("natural", "black", "white", "walnut brown", "grey", "espresso")


@dataclass(frozen=True)
class Branch:
    name: str                   # department name used in sentences ("clothing")
    roots: tuple[str, ...]      # WordNet noun offsets whose hyponym leaves are product types
    materials: tuple[str, ...]  # what items of this branch are made of (or, for toiletries, made with)
    colors: tuple[str, ...]
    sizes: tuple[str, ...] = ()
    audiences: tuple[str, ...] = ()
    price_range: tuple[float, float] = (10.0, 100.0)  # mid-tier base price range in dollars


BRANCHES: tuple[Branch, ...] = (
    Branch("clothing", ("03419014", "03381126"),  # garment; hosiery ("clothing worn on a person's feet")
           ("cotton", "wool", "linen", "silk", "polyester", "denim", "cashmere", "fleece", "leather"),
           BASIC_COLORS, APPAREL_SIZES, PEOPLE, (15.0, 90.0)),
    Branch("headwear", ("03502509",),  # headdress
           ("wool", "cotton", "felt", "straw", "leather", "fleece", "polyester"),
           BASIC_COLORS, HAT_SIZES, PEOPLE, (10.0, 60.0)),
    Branch("footwear", ("03380867",),
           ("leather", "suede", "canvas", "rubber", "mesh", "wool"),
           BASIC_COLORS, SHOE_SIZES, PEOPLE, (25.0, 120.0)),
    Branch("furniture", ("03405725",),
           ("oak", "walnut", "pine", "bamboo", "steel", "rattan", "teak", "birch"),
           WOOD_COLORS, (), (), (80.0, 600.0)),
    Branch("kitchenware", ("03621049", "03101986", "04381994"),  # kitchen utensil, cookware, tableware
           ("stainless steel", "cast iron", "ceramic", "glass", "copper", "bamboo", "silicone", "porcelain"),
           BASIC_COLORS, (), (), (8.0, 70.0)),
    Branch("home appliances", ("03528263",),
           ("stainless steel", "plastic", "aluminum", "enamel"),
           DEVICE_COLORS, (), (), (40.0, 500.0)),
    Branch("tools", ("03489162", "03997484", "03418242"),  # hand tool, power tool, garden tool
           ("steel", "carbon steel", "chrome vanadium", "aluminum", "fiberglass", "titanium"),
           ("red", "yellow", "orange", "black", "blue", "green"), (), (), (10.0, 150.0)),
    Branch("toys", ("03964744", "03414162"),  # toy; game equipment
           ("wood", "plastic", "plush", "metal", "rubber", "cardboard"),
           ("red", "blue", "green", "yellow", "pink", "purple", "orange"), (), (), (8.0, 60.0)),
    Branch("sports equipment", ("04285146", "04285622"),
           ("aluminum", "carbon fiber", "rubber", "nylon", "steel", "leather", "wood"),
           BASIC_COLORS, (), (), (15.0, 200.0)),
    Branch("musical instruments", ("03800933",),
           ("spruce", "maple", "rosewood", "brass", "mahogany", "nickel silver", "ebony"),
           ("natural", "black", "sunburst", "gold", "silver", "red"), (), (), (60.0, 900.0)),
    Branch("bags", ("02773037", "02774630"),  # bag; luggage
           ("leather", "canvas", "nylon", "polyester", "jute", "cotton"),
           BASIC_COLORS, (), (), (15.0, 150.0)),
    Branch("jewelry and watches", ("03597469", "04437953"),  # jewelry; timepiece
           ("gold", "sterling silver", "platinum", "titanium", "stainless steel", "rose gold"),
           ("black", "white", "blue", "green", "red", "pink"), (), ("men", "women"), (30.0, 400.0)),
    Branch("toiletries", ("04447443",),
           ("aloe vera", "coconut oil", "shea butter", "charcoal", "lavender", "tea tree oil", "argan oil"),
           ("white", "pink", "blue", "green", "clear"), (), (), (4.0, 30.0)),
    Branch("electronics", ("02942699", "04401088", "03691459", "03261776", "03082979", "02757462",
                           "04393095", "04405907", "04043733", "02938886"),
           ("plastic", "aluminum", "glass", "carbon fiber", "magnesium alloy"),
           DEVICE_COLORS, (), (), (30.0, 800.0)),
    Branch("lighting", ("03636248",),
           ("brass", "glass", "steel", "ceramic", "wood", "bamboo", "copper"),
           ("black", "white", "gold", "silver", "bronze", "green"), (), (), (20.0, 200.0)),
    Branch("bedding", ("02820210",),
           ("cotton", "linen", "silk", "wool", "polyester", "flannel"),
           BASIC_COLORS, BED_SIZES, (), (25.0, 180.0)),
)

TIERS = ("budget", "mid", "premium")
