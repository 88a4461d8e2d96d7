"""Generated provider exports with known, planted effects.

:func:`generate` makes data shaped like a real provider's export (enrollments, scheduled
sessions with attendance, post-discharge follow-ups) in which the true program effects and the
confounding are parameters (:class:`Effects`), so that estimators can be checked against truth.
No real person is behind any row.

The story of a client
---------------------
Each client has baseline covariates (``age_group``, ``sex``, ``race_ethnicity``,
``primary_substance``, ``co_occurring_mh``, ``prior_episodes``, ``referral_source``,
``site_id``). From the observed covariates only, a **severity** score is built::

    severity = 0.9 co_occurring_mh + 0.35 min(prior_episodes, 4) + w[primary_substance]
               + a[age_group] - 0.75

with ``w`` = opioids 0.6, stimulants 0.4, sedatives 0.3, alcohol 0.1, other 0, cannabis -0.3 and
``a`` = 12-17 0.1, 18-24 0.2, 55-64 and 65+ -0.1, others 0. There is no unobserved confounder:
placement noise and outcome noise are independent given the observed covariates.

*Placement.* A first episode is detox with probability 0.08, outpatient 0.12, php 0.06;
otherwise residential with probability ``expit(placement_intercept + placement_severity *
severity + placement_court * court_referral)``, else IOP. Severity therefore raises the chance
of residential care.

*Completion.* ``logit P(completed) = completion_base[program] + completion_severity *
severity + completion_log_or_iop * [program == iop]``. Severity lowers completion in every
program, so a naive IOP-vs-residential comparison is confounded. Non-completers are discharged
``left_early`` (most), ``discharged_by_program``, ``transferred``, ``incarcerated`` (more often
after a court referral) or ``other``; ``died`` with probability ``death_prob``.

*Length of stay.* Completers stay about their planned length; non-completers leave at a
Beta(0.7, 1.8) fraction of it (so many leave in the first two weeks).

*Step-down.* A residential or php episode discharged ``completed`` or ``transferred`` is
followed, with probability ``step_down_prob``, by an IOP (80%) or outpatient admission 0 days
(35%), 1-7 days (45%) or 8-30 days (20%) later.

*Readmission (the planted hazard).* For every discharged episode **not followed by a
step-down** (and not ``died``), the time from discharge to the client's next admission is
Weibull with shape ``readmission_shape`` and proportional hazards::

    h(t) = h0(t) * exp(readmission_severity * severity + readmission_log_hr_iop * [iop])

so ``exp(readmission_log_hr_iop)`` is the true conditional hazard ratio of IOP against
residential (both programs of the same severity), among episodes not followed by a step-down.
Completion does not enter the hazard (it is not a mediator of the planted effect). For an
episode followed by a step-down, the next non-step-down admission comes after the step-down
episode's own discharge, so its time to readmission includes the step-down stay: restrict to
episodes without a step-down (e.g. ``step_down`` false in :func:`outcomes.episodes`) to compare
against the planted hazard ratio. A readmission takes the same placement rule with
``prior_episodes`` increased by one.

*Attendance.* IOP: three group sessions a week (days 0, 2, 4 of each program week) of 3, 3.5
or 4 hours; residential: a daily 3-hour group plus a weekly 1-hour individual session; php:
five 5-hour days a week; outpatient: one 1.5-hour session a week; detox: a daily 1-hour
education session. Sessions are scheduled from admission through discharge (or ``end``).
Each session is excused with probability 0.04 and cancelled by the program with 0.025;
otherwise attended with an episode's own propensity, which is higher for completers, and falls
by more than half in the last 14 days before a ``left_early`` discharge (missed sessions precede
dropout). About 1% of session rows are dated 1-7 days after discharge (sessions already on the
calendar, then cancelled or missed), which metrics must not count.

*Follow-ups.* For 60% of discharged episodes (not ``died``), contacts near 30, 90, 180 and 365
days after discharge (each answered with probability 0.8, and only up to ``end``) report
``used_since_discharge`` when a latent time to first use, Weibull with the same linear
predictor but a shorter scale, or the readmission, came before the contact.

Nothing is dated after ``end``: episodes still running then are open (no discharge date or
reason), and no session, follow-up or admission comes later.

Blocks
------
Clients are generated in blocks of :data:`BLOCK` (100,000), each from its own random stream
of the seed (:func:`block_rng`: the first block from ``numpy.random.default_rng(seed)``, block
``k`` from the seed's ``k``-th spawned stream). A block holds its clients' every episode,
session and follow-up, so the story above is told within it, and an export is its blocks one
after another (:func:`blocks`): :func:`generate` holds them all, :func:`export` writes one at
a time in the memory of one block, and both give the same files. Up to :data:`BLOCK` clients,
an export is one stream of the seed.
"""

from __future__ import annotations

from outcomes.synth._foreign import (
    FOREIGN_MESSY_PLANTED,
    FOREIGN_TWICE,
    foreign_mapping,
    write_foreign,
)
from outcomes.synth._generate import BLOCK, block_rng, blocks, generate
from outcomes.synth._model import (
    Effects,
    completion_probability,
    marginal_readmission_hazard_ratio,
    readmission_probability,
    severity,
)
from outcomes.synth._write import MESSY_PLANTED, export, mess_up, write

__all__ = [
    "BLOCK",
    "FOREIGN_MESSY_PLANTED",
    "FOREIGN_TWICE",
    "MESSY_PLANTED",
    "Effects",
    "block_rng",
    "blocks",
    "completion_probability",
    "export",
    "foreign_mapping",
    "generate",
    "marginal_readmission_hazard_ratio",
    "mess_up",
    "readmission_probability",
    "severity",
    "write",
    "write_foreign",
]
