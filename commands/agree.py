"""``python -m harness agree --code ncfm|dm --authors PATH``: for identical inputs, the harness's
loss and image gradient against the authors' own code, imported from your unmodified checkout.

One line per check with its largest relative error, max |harness - authors| / max |authors|;
exit status 0 when every check agrees within the tolerance (1e-6 in float64), 1 when one does not
(named), 2 when PATH is not a checkout of the code (gszfwsb/NCFM for ncfm,
VICO-UoE/DatasetCondensation for dm). What each check calls is in agreement/dm.py and
agreement/ncfm.py.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from commands import _common as cli

WRITES = ("writes: one record per check to <output>/records/agree.jsonl (read by agreement-page); the NCFM "
          "check's random pretrained pool lives in a temporary folder, removed after")


def main(argv=None) -> None:
    from agreement import CODES, TOLERANCE, checkout_fingerprint, check_checkout, repository, run_checks
    from harness.records import RecordStore, records_path

    parser = cli.Parser(prog="python -m harness agree", description=__doc__, epilog=WRITES)
    parser.add_argument("--code", required=True, choices=sorted(CODES), help="whose code to check against")
    parser.add_argument("--authors", required=True, type=Path, metavar="PATH",
                        help="your checkout of the authors' repository (unmodified)")
    parser.add_argument("--dtype", default="float64", choices=sorted(TOLERANCE),
                        help="precision of both sides; float64 is the verdict (tolerance 1e-6), float32 the "
                             "harness's working precision (tolerance 1e-2)")
    cli.add_output(parser)
    args = parser.parse_args(argv)
    tolerance = TOLERANCE[args.dtype]
    authors = check_checkout(args.code, args.authors)
    cli.use_output(args.output)
    print(f"{args.code}: the harness against {repository(args.code)} at {authors}, {args.dtype}, "
          f"agreement = relative error <= {tolerance:g}")
    with warnings.catch_warnings():  # the authors' code warns about its own idioms
        warnings.simplefilter("ignore")
        results = run_checks(args.code, authors, args.dtype)
    store = RecordStore(records_path("agree"))
    files = checkout_fingerprint(args.code, authors)
    for r in results:
        print(f"  {'ok' if r.error <= tolerance else 'DISAGREES':<9} {r.error:8.1e}  {r.name}")
        store.append({"task": "agree", "code": args.code, "check": r.name, "dtype": args.dtype,
                      "authors_files_sha256": files},
                     {"max_rel_error": r.error, "tolerance": tolerance, "agrees": bool(r.error <= tolerance)},
                     extra={"authors_repository": repository(args.code), "authors_path": str(authors)})
    bad = [r.name for r in results if not r.error <= tolerance]  # a NaN error disagrees
    if bad:
        print(f"error: {len(bad)} of {len(results)} checks disagree: {'; '.join(bad)}", file=sys.stderr)
        sys.exit(1)
    print(f"all {len(results)} checks agree")


if __name__ == "__main__":
    cli.run_command(main)
