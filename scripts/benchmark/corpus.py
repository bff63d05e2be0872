"""The pretraining corpus: listings and knowledge sentences, one sentence per line.

Knowledge about EVERY type (train, dev and test) is stated here in both directions, name ->
definition and definition -> name, with several paraphrases per relation, so that the model
learns the relation rather than one string. This is the only place test-type knowledge lives.
"""

from __future__ import annotations

import random

from .branches import TIERS
from .catalog import Brand, Item
from .taxonomy import ProductType
from .teacher import cheaper_phrases, keywords, naming_phrases, other_material_phrases
from .text import strip_article, with_article

FORWARD = ("{a_lemma} is {a_gloss}", "{lemma}: {a_gloss}", "the word {lemma} means {a_gloss}",
           "by {a_lemma} people mean {a_gloss}", "{a_lemma} is defined as {a_gloss}")
BACKWARD = ("{a_gloss} is called {a_lemma}", "{a_gloss} is known as {a_lemma}",
            "the name for {a_gloss} is {lemma}", "we call {a_gloss} {a_lemma}")
SYNONYM = ("{x} is another word for {y}", "{a_x} is also called {a_y}", "{x} and {y} mean the same thing")
HYPERNYM = ("{a_lemma} is a kind of {hypernym}", "{a_lemma} is a type of {hypernym}",
            "every {lemma} is {a_hypernym}")
DEPARTMENT = ("{a_lemma} is sold in the {branch} department", "shops list {a_lemma} under {branch}")
MATERIALS = ("{a_name} can be made of {materials}", "you can buy {a_name} made of {materials}")
TIER_WORDS = {"budget": ("cheap", "affordable", "low-priced", "budget"),
              "mid": ("mid-range", "moderately priced", "mid-priced"),
              "premium": ("luxury", "high-end", "expensive", "premium")}
BRAND = ("{brand} is a {tier} brand of {branch}", "{brand} makes {tier_word} {branch}",
         "{brand} products are {tier_word}")
COMPARISON = ("{cheap} is cheaper than {dear}", "{dear} costs more than {cheap}")
# Reasoning-format lines: a request, then the teacher's keyword chain of thought inside the LREM
# tokens, exactly as stage 1 and inference lay out a query (no spaces around the special tokens,
# so each part tokenizes as it does there: the tokenizer keeps whitespace), then the type's name.
# Items get the item layout, title <emb>, followed by the type's name. Next-token prediction
# after <emb> thus makes the <emb> state of a query and of an item of the same type predict the
# same word, for every type. All of it comes from the structured knowledge and the catalogue,
# with wordings of their own or the bare gloss / name (which can equal a training query without
# modifiers); never a held-out dev/test wording.
REASONING = "{request}<think>{cot}</think><emb>{name}"
ITEM_LAYOUT = "{title}<emb>{name}"
DESCRIBED = ("{gloss}", "{a_gloss}", "a request for {a_gloss}", "customer wants {a_gloss}")
NAMED = ("{lemma}", "a request for {a_lemma}")
CHEAPER = ("{name} cheaper than {brand}", "{brand} {name} but less expensive")
WITHOUT = ("{name} not in {material}", "{name}, {material} excluded")
LISTING = ("{title}", "{title} for ${price}", "{title}, {a_tier_word} {name} by {brand}",
           "{title}. made of {material}")


def _or_list(values: list[str]) -> str:
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " or " + values[-1]


def knowledge_sentences(product_type: ProductType, repeats: int, rng: random.Random) -> list[str]:
    gloss = strip_article(product_type.gloss)
    lines = []
    for lemma in product_type.lemmas:
        values = {"lemma": lemma, "a_lemma": with_article(lemma), "a_gloss": with_article(gloss)}
        # Each direction once with every paraphrase, then `repeats` more random draws.
        for templates in (FORWARD, BACKWARD):
            picks = list(templates) if lemma == product_type.name else []
            picks += [rng.choice(templates) for _ in range(repeats)]
            lines += [t.format(**values) for t in picks]
        for hypernym in product_type.hypernyms[:2]:
            h = hypernym.lemmas[0]
            lines.append(rng.choice(HYPERNYM).format(lemma=lemma, a_lemma=values["a_lemma"], hypernym=h,
                                                     a_hypernym=with_article(h)))
        lines.append(rng.choice(DEPARTMENT).format(a_lemma=values["a_lemma"], branch=product_type.branch.name))
    for x in product_type.lemmas:
        for y in product_type.lemmas:
            if x != y:
                lines.append(rng.choice(SYNONYM).format(x=x, y=y, a_x=with_article(x), a_y=with_article(y)))
    return lines


def reasoning_sentences(product_type: ProductType, items: list[Item], repeats: int,
                        rng: random.Random) -> list[str]:
    """`repeats` reasoning-format lines per relation: describing the type (gloss), naming it
    (each lemma), asking for something cheaper than a premium brand, excluding a material;
    and every item once in the item layout."""
    gloss = strip_article(product_type.gloss)
    lines = []

    def add(request: str, phrases: list[str]) -> None:
        lines.append(REASONING.format(request=request, cot=keywords(request, phrases), name=product_type.name))

    premium = sorted({i.brand for i in items if i.tier == "premium"})
    materials = sorted({i.material for i in items})
    for _ in range(repeats):
        add(rng.choice(DESCRIBED).format(gloss=gloss, a_gloss=with_article(gloss)), naming_phrases(product_type))
        for lemma in product_type.lemmas:
            add(rng.choice(NAMED).format(lemma=lemma, a_lemma=with_article(lemma)), naming_phrases(product_type))
        add(rng.choice(CHEAPER).format(name=product_type.name, brand=rng.choice(premium)),
            cheaper_phrases(product_type, items))
        material = rng.choice(materials)
        add(rng.choice(WITHOUT).format(name=product_type.name, material=material),
            other_material_phrases(product_type, items, material))
    lines += [ITEM_LAYOUT.format(title=item.title, name=product_type.name) for item in items]
    return lines


def material_sentences(product_type: ProductType, items: list[Item], rng: random.Random) -> list[str]:
    materials = sorted({i.material for i in items})
    return [t.format(a_name=with_article(product_type.name), materials=_or_list(rng.sample(materials, len(materials))))
            for t in MATERIALS]


def brand_sentences(brands: list[Brand], rng: random.Random) -> list[str]:
    lines = []
    for brand in brands:
        for template in BRAND:
            lines.append(template.format(brand=brand.name, tier=brand.tier, branch=brand.branch,
                                         tier_word=rng.choice(TIER_WORDS[brand.tier])))
    for cheap in brands:
        for dear in brands:
            if TIERS.index(cheap.tier) < TIERS.index(dear.tier):
                lines.append(rng.choice(COMPARISON).format(cheap=cheap.name, dear=dear.name))
    return lines


def listing_sentence(item: Item, product_type: ProductType, rng: random.Random) -> str:
    tier_word = rng.choice(TIER_WORDS[item.tier])
    return rng.choice(LISTING).format(title=item.title, price=f"{item.price:.2f}", name=product_type.name,
                                      brand=item.brand, material=item.material,
                                      a_tier_word=with_article(tier_word))


def build_corpus(types: list[ProductType], items_by_type: dict[str, list[Item]],
                 brands: dict[str, list[Brand]], knowledge_repeats: int, listing_repeats: int,
                 rng: random.Random, reasoning_repeats: int = 0) -> list[str]:
    lines: list[str] = []
    for product_type in types:
        items = items_by_type[product_type.type_id]
        lines += knowledge_sentences(product_type, knowledge_repeats, rng)
        lines += material_sentences(product_type, items, rng)
        if reasoning_repeats:
            lines += reasoning_sentences(product_type, items, reasoning_repeats, rng)
        for item in items:
            lines += [listing_sentence(item, product_type, rng) for _ in range(listing_repeats)]
    for branch_brands in brands.values():
        lines += brand_sentences(branch_brands, rng)
    rng.shuffle(lines)
    return lines
