"""The demo lake: a small online shop, generated deterministically, with the dirt real data has.

Tables (namespace ``shop``):
- ``customers``: who they are — country, age, gender (a sensitive attribute for bias checks), segment,
  email (some missing or malformed), signup time.
- ``products``: catalog with category and price.
- ``orders``: what they bought and when, with duplicates, negative and huge amounts (outliers), missing
  channels, and a malformed-rows CSV so the quarantine has something in it.
- ``events``: clickstream (views, carts, purchases) with timestamps, as JSON Lines.
- ``churn_labels``: the label to predict — whether a customer churned after a cut-off date. It depends
  on recency, frequency and spend, and (deliberately) a little on gender and age, so bias metrics have
  something to find.
- ``customer_stats``: derived with SQL from orders (lineage has a downstream).

Everything is generated from a fixed seed, so two runs on the same day build the same lake; nothing is
downloaded. The year of data ends at the start of the day the demo is built (UTC), so that its online
features (valid for 60 days and a week) hold values when the demo's suggested commands read them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from mlake.lake import Lake

SEED = 20261127
DAYS = 365
CUTOFF_DAY = 300  # labels: did the customer buy in the 65 days after this day of the year of data?


def demo_end(now: datetime | None = None) -> datetime:
    """Where the demo's year of data ends: the start of ``now``'s day (default: today), UTC."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def demo_cutoff(end: datetime | None = None) -> datetime:
    """The labels' as-of time in a demo whose data end at ``end`` (default: today's)."""
    return demo_end(end) - timedelta(days=DAYS - CUTOFF_DAY)


COUNTRIES = ["DE", "FR", "NL", "ES", "IT", "PL", "SE", "US", "GB"]
SEGMENTS = ["consumer", "small_business", "enterprise"]
CATEGORIES = ["books", "electronics", "garden", "toys", "fashion", "grocery", "sports"]
CHANNELS = ["web", "app", "store", "partner"]
EVENT_TYPES = ["view", "view", "view", "search", "add_to_cart", "purchase"]


ORDERS_BASICS = """\
table: shop.orders
checks:
  - type: unique
    column: order_id
  - type: not_null
    column: customer_id
  - type: in_range
    column: amount
    min: 0
    max: 20000
  - type: in_set
    column: status
    values: [completed, returned, cancelled]
  - type: not_null
    column: channel
    threshold: 0.95
    severity: warn
"""


def generate(customers: int = 5000, seed: int = SEED, end: datetime | None = None) -> dict[str, pa.Table]:
    """The demo tables as Arrow, before any dirt is written to files; the data end at ``end`` (default:
    the start of today, UTC)."""
    end = demo_end(end)
    start = end - timedelta(days=DAYS)
    cutoff = start + timedelta(days=CUTOFF_DAY)
    rng = np.random.default_rng(seed)
    n = customers
    cust_ids = np.arange(1, n + 1)
    signup = start + np.array([timedelta(days=float(d)) for d in rng.uniform(-400, 250, n)])
    age = np.clip(rng.normal(40, 13, n).round(), 18, 90).astype(int)
    gender = rng.choice(["female", "male", "nonbinary"], n, p=[0.49, 0.49, 0.02])
    country = rng.choice(COUNTRIES, n, p=[0.25, 0.15, 0.1, 0.1, 0.1, 0.08, 0.07, 0.1, 0.05])
    segment = rng.choice(SEGMENTS, n, p=[0.8, 0.15, 0.05])
    emails: list[str | None] = [f"customer{i}@example.com" for i in cust_ids]
    for i in rng.choice(n, n // 50, replace=False):
        emails[i] = None
    for i in rng.choice(n, n // 100, replace=False):
        emails[i] = f"customer{i + 1}-at-example"  # malformed
    activity = rng.gamma(1.5, 1.0, n) * np.where(segment == "enterprise", 3, 1)

    products = 300
    prod_ids = np.arange(1, products + 1)
    categories = rng.choice(CATEGORIES, products)
    price = np.round(np.exp(rng.normal(3.2, 0.9, products)), 2)

    orders_per = rng.poisson(activity * 6)
    o_cust = np.repeat(cust_ids, orders_per)
    m = len(o_cust)
    signup_day = np.array([(s - start).total_seconds() / 86400 for s in signup])
    first_day = np.maximum(signup_day[o_cust - 1], 0)
    # churners stop buying early: customers with low activity fade out after ~day 200
    fade = np.where(activity[o_cust - 1] < 0.7, 200, DAYS)
    day = first_day + rng.uniform(0, 1, m) * np.maximum(fade - first_day, 1)
    ordered_at = [start + timedelta(days=float(d)) for d in np.minimum(day, DAYS - 0.01)]
    o_prod = rng.choice(prod_ids, m)
    qty = rng.integers(1, 5, m)
    amount = np.round(price[o_prod - 1] * qty * rng.uniform(0.9, 1.1, m), 2)
    channel = rng.choice(CHANNELS, m, p=[0.5, 0.3, 0.15, 0.05]).astype(object)
    channel[rng.choice(m, m // 40, replace=False)] = None  # missing channels
    status = rng.choice(["completed", "completed", "completed", "returned", "cancelled"], m)
    order_ids = np.arange(100_000, 100_000 + m)
    order_rows = {
        "order_id": order_ids,
        "customer_id": o_cust,
        "product_id": o_prod,
        "ordered_at": pa.array(ordered_at, pa.timestamp("us", tz="UTC")),
        "quantity": qty,
        "amount": amount,
        "channel": list(channel),
        "status": status,
    }
    orders = pa.table(order_rows)
    outliers = rng.choice(m, max(m // 500, 3), replace=False)
    amounts = orders.column("amount").to_numpy().copy()
    amounts[outliers[: len(outliers) // 2]] *= -1  # refunds booked wrongly as negative amounts
    amounts[outliers[len(outliers) // 2 :]] *= 100  # fat-finger outliers
    orders = orders.set_column(orders.schema.get_field_index("amount"), "amount", pa.array(amounts))
    dups = orders.take(pa.array(rng.choice(m, max(m // 200, 2), replace=False)))
    orders = pa.concat_tables([orders, dups])  # exact duplicate rows, as double-sent exports make

    ev_per = rng.poisson(activity * 25)
    e_cust = np.repeat(cust_ids, ev_per)
    k = len(e_cust)
    e_day = np.maximum(signup_day[e_cust - 1], 0) + rng.uniform(0, 1, k) * (
        DAYS - np.maximum(signup_day[e_cust - 1], 0)
    )
    e_ts = [start + timedelta(days=float(d)) for d in np.minimum(e_day, DAYS - 0.001)]
    events = pa.table(
        {
            "event_id": np.arange(1, k + 1),
            "customer_id": e_cust,
            "ts": pa.array(e_ts, pa.timestamp("us", tz="UTC")),
            "event_type": rng.choice(EVENT_TYPES, k),
            "page": [f"/p/{p}" for p in rng.choice(prod_ids, k)],
            "device": rng.choice(["desktop", "mobile", "tablet"], k, p=[0.45, 0.45, 0.1]),
            "session_id": [f"s{c}-{int(d * 4)}" for c, d in zip(e_cust, e_day, strict=True)],
        }
    )

    last_before = np.full(n, -1.0)
    spend = np.zeros(n)
    count = np.zeros(n)
    after = np.zeros(n, dtype=bool)
    cut = (cutoff - start).days
    for c, d, a in zip(o_cust, day, amount, strict=True):
        if d <= cut:
            last_before[c - 1] = max(last_before[c - 1], d)
            spend[c - 1] += a
            count[c - 1] += 1
        else:
            after[c - 1] = True
    recency = np.where(last_before < 0, 400, cut - last_before)
    logit = -1.2 + 0.012 * recency - 0.15 * count - 0.0008 * spend + 0.35 * (gender == "male") + 0.01 * (age - 40)
    churn_prob = 1 / (1 + np.exp(-logit))
    churned = (rng.uniform(0, 1, n) < churn_prob) | (~after & (recency > 120))
    labels = pa.table(
        {
            "customer_id": cust_ids,
            "as_of": pa.array([cutoff] * n, pa.timestamp("us", tz="UTC")),
            "churned": churned,
        }
    )
    customers_t = pa.table(
        {
            "customer_id": cust_ids,
            "signup_at": pa.array(list(signup), pa.timestamp("us", tz="UTC")),
            "country": country,
            "age": age,
            "gender": gender,
            "segment": segment,
            "email": emails,
        }
    )
    products_t = pa.table({"product_id": prod_ids, "category": categories, "price": price})
    return {
        "customers": customers_t,
        "products": products_t,
        "orders": orders,
        "events": events,
        "churn_labels": labels,
    }


def write_files(tables: dict[str, pa.Table], folder: Path) -> dict[str, list[Path]]:
    """Write the demo data as the files a company would export: CSV, Parquet, JSON Lines."""
    import pyarrow.csv as pacsv

    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, list[Path]] = {}
    pacsv.write_csv(tables["customers"], folder / "customers.csv")
    files["customers"] = [folder / "customers.csv"]
    pq.write_table(tables["products"], folder / "products.parquet")
    files["products"] = [folder / "products.parquet"]
    orders = tables["orders"]
    half = orders.num_rows // 2
    pacsv.write_csv(orders.slice(0, half), folder / "orders-h1.csv")
    pacsv.write_csv(orders.slice(half), folder / "orders-h2.csv")
    # A partner's export with broken rows: wrong field counts, text in numbers, bad encoding.
    bad = folder / "orders-partner.csv"
    with (folder / "orders-h2.csv").open("rb") as f:
        header = f.readline()
    lines = [header]
    base = 900_000
    first = pc.min(orders.column("ordered_at")).as_py() + timedelta(days=150)
    when = first.strftime("%Y-%m-%d")
    for i in range(40):
        day = f"{(first + timedelta(days=i % 28)).strftime('%Y-%m-%d')} 10:00:00+00"
        lines.append(f"{base + i},{1 + i},{1 + i % 300},{day},1,{12.5 + i},partner,completed\n".encode())
    lines += [
        f"900100,17,3,{when} 11:00:00+00,1,19.99,partner\n".encode(),
        f"900101,18,4,{when} 11:05:00+00,two,19.99,partner,completed\n".encode(),
        f"900102,19,5,{when} 11:10:00+00,1,19.99,partner,completed,extra\n".encode(),
        f"900103,20,6,{when} 11:15:00+00,1,".encode() + b"\xff\xfe9.99,partner,completed\n",
        b"900104,21,7,not a date,1,5.00,partner,completed\n",
    ]
    bad.write_bytes(b"".join(lines))
    files["orders"] = [folder / "orders-h1.csv", folder / "orders-h2.csv", bad]
    events = tables["events"]
    with (folder / "events.jsonl").open("w") as f:
        for row in events.to_pylist():
            row["ts"] = row["ts"].isoformat()
            f.write(json.dumps(row) + "\n")
        f.write('{"event_id": -1, "customer_id": 1, "ts": "yesterday-ish", "event_type": "view"}\n')
        f.write("{truncated json\n")
    files["events"] = [folder / "events.jsonl"]
    pq.write_table(tables["churn_labels"], folder / "churn_labels.parquet")
    files["churn_labels"] = [folder / "churn_labels.parquet"]
    return files


def build_demo(lake: Lake, customers: int = 5000, end: datetime | None = None) -> list[str]:
    """Generate, write and ingest the demo data (ending at ``end``, default today); describe tables; derive
    one table with SQL."""
    tables = generate(customers, end=end)
    folder = lake.settings.home / "demo-data"
    files = write_files(tables, folder)
    lake.create_namespace("shop", description="A small online shop: the mlake demo dataset.")
    lines = []
    descriptions = {
        "customers": "Registered customers. gender is a sensitive attribute; email has missing and malformed values.",
        "products": "Product catalog.",
        "orders": "Orders with deliberate dirt: duplicates, negative and huge amounts, missing channels.",
        "events": "Clickstream events, delivered from the stream shop-clicks.",
        "churn_labels": "Label to predict: churned after the cut-off date (as_of).",
    }
    partitions = {"events": ["month(ts)"], "orders": []}
    for name, paths in files.items():
        if name == "events":  # the clickstream arrives through a stream (below)
            continue
        report = lake.ingest(
            [str(p) for p in paths],
            into=f"shop.{name}",
            description=descriptions[name],
            partition_by=partitions.get(name, ()),
        )
        lines.append(report.summary())
    from mlake.streams.demo import build_stream_demo

    lines += build_stream_demo(lake, tables["events"])
    lake.table("shop.events").set_metadata(description=descriptions["events"])
    t = lake.table("shop.customers")
    t.set_metadata(
        owner="crm-team",
        tags={"pii": "true", "domain": "customers"},
        column_docs={"gender": "Self-reported; sensitive attribute", "email": "Contact address (PII)"},
    )
    lake.table("shop.orders").set_metadata(
        owner="sales-data",
        tags={"pii": "false", "domain": "sales"},
        column_docs={"amount": "Order value in EUR", "ordered_at": "When the order was placed (UTC)"},
    )
    lake.table("shop.events").set_metadata(owner="web-team", tags={"pii": "false", "domain": "web"})
    lake.table("shop.churn_labels").set_metadata(owner="ml-team", tags={"pii": "false", "domain": "ml"})
    lake.table("shop.products").set_metadata(owner="catalog-team", tags={"pii": "false"})
    lake.sql(
        """CREATE OR REPLACE TABLE shop.customer_stats AS
           SELECT customer_id, count(*) AS orders, sum(amount) AS spend, max(ordered_at) AS last_order_at
           FROM shop.orders WHERE status = 'completed' AND amount > 0 GROUP BY customer_id"""
    )
    lake.table("shop.customer_stats").set_metadata(
        description="Per-customer order statistics, derived with SQL.", owner="ml-team", tags={"pii": "false"}
    )
    lines.append("shop.customer_stats: derived from shop.orders with SQL")
    # A suggested check suite to start from (one profile of the orders: well under a second).
    suite = folder / "orders-checks.yaml"
    lake.quality.suggest("shop.orders").save(suite)
    lines.append(f"shop.orders: suggested checks written to {suite}")
    # The sales team's own rules, stored with the table and run once: the demo's dirt fails two of them,
    # so Studio opens with failing checks to look into.
    basics = lake.quality.suites.save("shop.orders", "orders-basics", ORDERS_BASICS)
    result = lake.quality.check("shop.orders", basics)
    failed = [r.check for r in result.failures]
    lines.append(f"shop.orders: stored suite orders-basics ran, {len(failed)} check(s) failed: {', '.join(failed)}")
    from mlake.features.demo import build_feature_demo

    lines += build_feature_demo(lake)
    lines += build_processing_demo(lake)
    lines += build_labeling_demo(lake)
    return lines


def build_labeling_demo(lake: Lake, items: int = 60) -> list[str]:
    """A labeling project with simulated annotators of known accuracy (0.9, 0.8, 0.7) who judged whether
    customers will churn, with three gold items, consolidated by Dawid–Skene; and a review loop over
    simulated churn predictions that sends the unsure ones (and a 5 % audit) to a reviewer."""
    from mlake.labeling.projects import ANSWERS_SCHEMA

    truth = {
        r["customer_id"]: "churn" if r["churned"] else "stay"
        for r in lake.sql(
            f"SELECT customer_id, churned FROM shop.churn_labels ORDER BY customer_id LIMIT {items}"
        ).to_pylist()
    }
    ids = sorted(truth)
    flip = {"churn": "stay", "stay": "churn"}
    lab = lake.labeling
    lab.create_project(
        "churn_judgement",
        "shop.customers",
        "customer_id",
        labels=["churn", "stay"],
        instructions="Will this customer stop buying in the next 65 days?",
        annotators_per_item=3,
        gold={i: truth[i] for i in ids[:3]},
    )
    rng = np.random.default_rng(SEED)
    at = demo_end() - timedelta(days=1)
    answers = [
        {
            "item_id": str(i),
            "annotator": who,
            "submitted_at": at + timedelta(seconds=k),
            "answer": json.dumps(truth[i] if rng.random() < accuracy else flip[truth[i]]),
            "seconds": float(rng.gamma(4.0, 2.0)),
        }
        for k, i in enumerate(ids)
        for who, accuracy in (("ann", 0.9), ("bob", 0.8), ("cy", 0.7))
    ]
    lake.table("labeling.churn_judgement__answers").append(
        pa.Table.from_pylist(answers, schema=ANSWERS_SCHEMA), command="demo: simulated annotators"
    )
    done = lab.consolidate("churn_judgement")
    agree = sum(json.loads(r["label"]) == truth[int(r["item_id"])] for r in done.labels.to_pylist())
    lines = [
        f"labeling.churn_judgement: {len(ids)} customers x 3 simulated annotators, Dawid-Skene labels "
        f"match the truth on {agree}/{len(ids)}"
    ]
    confidence = np.round(rng.uniform(0.5, 1.0, len(ids)), 3)
    predicted = [
        truth[i] if c > 0.65 or rng.random() < 0.5 else flip[truth[i]] for i, c in zip(ids, confidence, strict=True)
    ]
    lake.create_table(
        "shop.churn_predictions",
        pa.table({"customer_id": ids, "predicted": predicted, "confidence": confidence}),
        description="Simulated churn model predictions (the review loop's input).",
    )
    lab.create_review_loop(
        "churn_review",
        "shop.churn_predictions",
        "customer_id",
        "predicted",
        "confidence",
        threshold=0.6,
        audit_percent=5,
        labels=["churn", "stay"],
        seed=SEED,
    )
    sent = lab.activate("churn_review").to_pylist()
    reviewed = [
        {
            "item_id": r["item_id"],
            "annotator": "dee",
            "submitted_at": at,
            "answer": json.dumps(truth[int(r["item_id"])]),
            "seconds": 5.0,
        }
        for r in sent
    ]
    lake.table("labeling.churn_review__answers").append(
        pa.Table.from_pylist(reviewed, schema=ANSWERS_SCHEMA), command="demo: simulated reviewer"
    )
    report = lab.review_results("churn_review")
    lines.append(
        f"labeling.churn_review: {report.sent} of {len(ids)} predictions sent for review, "
        f"{report.overruled} overruled by the reviewer"
    )
    return lines


ORDERS_RECIPE = """
name: orders_clean
source: shop.orders
steps:
  - {op: dedupe}
  - {op: filter, condition: "amount > 0 AND status = 'completed'"}
  - {op: winsorize, columns: [amount], lower: 0.01, upper: 0.99}
  - {op: missing_indicator, columns: [channel]}
  - {op: fill_mode, columns: [channel]}
  - {op: one_hot, column: channel, top_k: 3, other: true}
  - {op: date_parts, column: ordered_at, parts: [month, dayofweek, hour]}
  - {op: cyclical, column: ordered_at_hour, period: 24}
  - {op: log, columns: [amount], offset: 1}
  - {op: standard_scale, columns: [quantity]}
"""

ORDERS_PIPELINE = """
name: orders_daily
triggers:
  - on_new_data: shop.orders
steps:
  - name: orders_have_ids
    kind: check
    table: shop.orders
    suite: |
      name: orders-ids
      checks:
        - not_null: order_id
        - not_null: customer_id
  - name: clean_orders
    kind: recipe
    recipe: orders_clean
    inputs: [shop.orders]
    output: shop.orders_clean
    depends_on: [orders_have_ids]
"""


def build_processing_demo(lake: Lake) -> list[str]:
    """A recipe that cleans the orders for a model, and a pipeline that re-runs it when orders arrive.

    The pipeline runs once here (as ``mlake worker`` would after the ingest), so Studio and
    ``mlake pipelines runs`` open with a finished run and ``shop.orders_clean`` exists with its lineage.
    """
    from mlake.pipelines import Worker

    version = lake.recipes.create(ORDERS_RECIPE)
    lake.pipelines.save(ORDERS_PIPELINE)
    runs = Worker(lake, "demo").run_once()
    statuses = [lake.pipelines.status(run_id).status for run_id in runs]
    rows = lake.table("shop.orders_clean").count() if lake.table_exists("shop.orders_clean") else 0
    return [
        f"recipe orders_clean v{version.version}: 10 steps over shop.orders",
        f"pipeline orders_daily: {len(runs)} run(s) on new data ({', '.join(statuses)}); "
        f"shop.orders_clean has {rows:,} rows",
    ]


def next_steps(lake: Lake) -> str:
    home = lake.settings.home
    return f"""
[bold green]The demo lake is ready[/bold green] in {home}. Try:

  mlake tables list
  mlake tables show shop.orders
  mlake sql "select channel, count(*), round(sum(amount), 2) from shop.orders group by all order by 2 desc"
  mlake sql "select line, kind, reason from shop.orders__quarantine"
  mlake tables history shop.orders
  mlake lineage shop.customer_stats
  mlake profile shop.orders --key order_id
  mlake check shop.orders --suite {home}/demo-data/orders-checks.yaml
  mlake check shop.orders --suite orders-basics      (the stored suite Studio shows failing)
  mlake report shop.orders -o orders-quality.html --key order_id
  mlake features show customer_orders
  mlake features export churn-training
  mlake recipes export orders_clean            (the demo's recipe as readable SQL)
  mlake pipelines runs orders_daily
  mlake features get customer_orders:spend_30d customer_clicks:views_1d --entity customer_id=42

From Python:  import mlake; lake = mlake.connect("{home}"); lake.sql("select * from shop.customers limit 5").to_pandas()
"""
