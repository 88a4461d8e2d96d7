"""National benchmarks from TEDS-D, SAMHSA's public file of treatment discharges.

Read the public file as downloaded (:func:`read`: one or many years, any format and layout,
only the columns a benchmark needs, codes outside the codebook reported as issues), and make
PUF-shaped files for tests and benchmarks (:func:`generate_puf`, :func:`write_puf`, with the
planted truth of :class:`Planted` and :func:`planted_rates`). :func:`benchmarks` makes the
benchmark table: completion, discharge reasons and length of stay by setting, state, year and
case-mix, with intervals. :func:`beside` sets each program beside the nation and its state
(:data:`PROGRAM_SETTINGS` maps program types to TEDS settings), and :func:`standardise` adjusts
for case-mix by indirect standardisation (observed / expected), drawn by :func:`funnel_plot`.
:func:`report_table` makes the table the quarterly report reads (``outcomes national
--report``), and :func:`load_report_benchmarks` reads it back for the report.
"""

from outcomes.national._benchmarks import BENCHMARK_COLUMNS, MEASURES, benchmarks
from outcomes.national._beside import beside, newcombe, standardise
from outcomes.national._codes import BY_COLUMNS, SERVICE_LABELS
from outcomes.national._funnel import funnel_limits, funnel_plot
from outcomes.national._mapping import CASEMIX, PROGRAM_SETTINGS
from outcomes.national._read import TEDS_ENV, TedsD, puf_files, read
from outcomes.national._report import ReportBenchmarks, load_report_benchmarks, report_table
from outcomes.national._synth import Planted, planted_rates
from outcomes.national._synth import generate as generate_puf
from outcomes.national._synth import write as write_puf

__all__ = [
    "BENCHMARK_COLUMNS",
    "BY_COLUMNS",
    "CASEMIX",
    "MEASURES",
    "PROGRAM_SETTINGS",
    "SERVICE_LABELS",
    "TEDS_ENV",
    "Planted",
    "ReportBenchmarks",
    "TedsD",
    "benchmarks",
    "beside",
    "funnel_limits",
    "funnel_plot",
    "generate_puf",
    "load_report_benchmarks",
    "newcombe",
    "planted_rates",
    "puf_files",
    "read",
    "report_table",
    "standardise",
    "write_puf",
]
