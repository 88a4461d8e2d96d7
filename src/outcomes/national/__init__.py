"""National benchmarks from TEDS-D, SAMHSA's public file of treatment discharges.

Read the public file as downloaded (:func:`read`: one or many years, any format and layout,
only the columns a benchmark needs, codes outside the codebook reported as issues), and make
PUF-shaped files for tests and benchmarks (:func:`generate_puf`, :func:`write_puf`, with the
planted truth of :class:`Planted` and :func:`planted_rates`).
"""

from outcomes.national._read import TedsD, read
from outcomes.national._synth import Planted, planted_rates
from outcomes.national._synth import generate as generate_puf
from outcomes.national._synth import write as write_puf

__all__ = ["Planted", "TedsD", "generate_puf", "planted_rates", "read", "write_puf"]
