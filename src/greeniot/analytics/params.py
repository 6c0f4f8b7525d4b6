"""Named, sourced threshold sets: the numbers every detector compares against.

Parameter sets are documented data, as ``pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS`` is:
pick one by name (``TILT_PARAMS["heritage"]``); an unknown name raises a KeyError that lists the
valid ones. Each figure says where it comes from: a source below, a figure in
``docs/domain.md`` ("Domain figures"), or "project choice" — a value derived by us, to
be tuned by replaying recorded seasons (``greeniot replay``), never a literature value.

Graded levels: ``watch`` (events of severity ``info``), ``warning``, ``critical``; ``failure``
for a fallen tree is its own event kind. An active level clears only when the value falls below
``hysteresis`` × its threshold, so a value hovering at a threshold raises one event, not many.

References (read for this module; the figure used is quoted in brackets)
----------------------------------------------------------------------------
[SAG] SAG Baumstatik, "Static load test — Execution",
    https://www.sag-baumstatik.org/en/methodology/static-load-test/durchfuehrung
    [pulling tests incline the trunk base at most 0.25°; after such small inclinations the
    root plate returns to its original position undamaged (cf. Detter & Rust 2018)].
[Dundee] Tree uprooting tests, University of Dundee Botanic Gardens, Forests 16(12), 1780
    (2025), https://www.mdpi.com/1999-4907/16/12/1780 [the maximum overturning moment occurred
    between 1.6° and 2.9° inclination during uprooting, irrespective of species].
[James2013] K. James, C. Hallam, C. Spencer, "Measuring tilt of tree structural root zones
    under static and wind loading", Agricultural and Forest Meteorology 168 (2013) 160–167,
    doi:10.1016/j.agrformet.2012.09.009 [maximum root-plate tilt under natural wind 0.88°;
    accelerometer tilt sensor, 0.01° accuracy, 20 Hz].
[Hui2022] K. K. W. Hui, M. S. Wong, C. Y. T. Kwok, H. Li, S. Abbas, J. E. Nichol, "Unveiling
    Falling Urban Trees before and during Typhoon Higos (2020): Empirical Case Study of
    Potential Structural Failure Using Tilt Sensor", Forests 13(2) (2022) 359,
    doi:10.3390/f13020359 [889 instrumented trees; two alarm shapes: Increasing Trend Alarm and
    Sudden Increase Alarm].
[Gocke2018] L. Göcke, S. Rust, F. Ruhl, "Assessing the Anchorage and Critical Wind Speed of
    Urban Trees using Root-Plate Inclination in High Winds", Arboriculture & Urban Forestry
    44(1) (2018) 1–11, doi:10.48044/jauf.2018.001 [wind data from weather stations several km
    away can be used against root-plate inclination].
[Beaufort] Beaufort scale, 10-min mean wind at 10 m in m/s, as tabulated (from the Central
    Weather Bureau, Taiwan) at
    https://www.highpeaktent.com/en/page/Beaufort-Scale/beaufort-wind-scale-table.html and at
    http://www.meteothes.gr/wxbeaufort-en.html [force 5 fresh breeze 8.0–10.7 "small trees in
    leaf begin to sway"; 6 strong breeze 10.8–13.8; 7 near gale 13.9–17.1 "whole trees in
    motion"; 8 gale 17.2–20.7 "twigs broken from trees"; 10 storm 24.5–28.4 "trees uprooted"].
    These are the internationally used (WMO) bands; we read them in those tables, not in a WMO
    document.
[Leaves] Natural sway frequencies of trees, https://pmc.ncbi.nlm.nih.gov/articles/PMC6597771
    [abstract: "the presence of leaves decreases both the fundamental frequency and the damping
    ratio"].
[KaneJames2011] B. Kane, K. R. James, "Dynamic properties of open-grown deciduous trees",
    Canadian Journal of Forest Research 41(2) (2011),
    http://www.ingentaconnect.com/content/nrc/cjfr/2011/00000041/00000002/art00011 [free
    vibrations of Bradford pear and chestnut oak remeasured after pruning and after leaf drop:
    "the effect of leaves superseded the effect of pruning, as well as ice accretion"].
[Moore2004] J. R. Moore, D. A. Maguire, "Natural sway frequencies and damping ratios of trees:
    influence of crown structure", Trees (online 17 Nov 2004),
    doi:10.1007/s00468-004-0387-y, http://researchrepository.napier.ac.uk/id/eprint/1931
    [removing crown raises the natural frequency; damping ratios of unpruned trees 8 % to
    almost critical, of completely de-branched trees 1–8 %; "damping was mainly due to
    aerodynamic drag"].
[Acer2010] "Seasonal variations of oscillation and vibration parameters of Acer platanoides",
    Dendrobiology 64 (2010), http://agro.icm.edu.pl/agro/element/bwmeta1.element.agro-556425ac-2011-42c2-8c23-df8d86899f27
    [pull-and-release tests in and out of leaf: the sway frequency differed by a factor of
    1.6 ± 0.2 between the foliated and out-of-leaf states; the damping ratio was 1.5 ± 0.3
    times higher in summer].
[USGS2022] "From flowering to foliage: Accelerometers track tree sway to provide high-resolution
    insights into tree phenology" (2022), https://www.usgs.gov/publications/flowering-foliage-accelerometers-track-tree-sway-provide-high-resolution-insights-tree
    [sway periodicity of two urban ash trees tracks mass changes; start of spring and of
    autumn from sway lag camera dates by 3–4 and 13–14 days].
[Domain] docs/domain.md, "Domain figures" [2-min averaging brings a low-cost MEMS tilt
    sensor to ~0.015°; MEMS drift with temperature by the equivalent of degrees; sway 0.1–1 Hz,
    band 0.05–3 Hz, bursts at 10–20 Hz; heritage trees stricter].
[BU409] Battery University, "BU-409: Charging Lithium-ion",
    https://batteryuniversity.com/article/bu-409-charging-lithium-ion [full charge 4.20 V per
    cell; cut-off 3.0 V] and "BU-501a: Discharge Characteristics of Li-ion",
    https://batteryuniversity.com/article/bu-501a-discharge-characteristics-of-li-ion [flat
    discharge around 3.6-3.7 V, steep fall below ~3.4 V].
[BU403] Battery University, "BU-403: Charging Lead Acid" and "BU-903: How to Measure
    State-of-charge", https://batteryuniversity.com/article/bu-903-how-to-measure-state-of-charge
    [open-circuit voltage 12.0 V ~ 40-50 %, 11.8 V ~ 25 % state of charge of a 12 V battery].
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Generic, TypeVar

from greeniot.analytics.sway.phenology import SeasonWindows

T = TypeVar("T")


class ParamSets(Mapping[str, T], Generic[T]):
    """Read-only name → parameter set; an unknown name raises KeyError listing valid ones."""

    __slots__ = ("_kind", "_sets")

    def __init__(self, kind: str, sets: Mapping[str, T]) -> None:
        self._kind = kind
        self._sets = MappingProxyType(dict(sets))

    def __getitem__(self, name: str) -> T:
        try:
            return self._sets[name]
        except KeyError:
            valid = ", ".join(sorted(self._sets))
            raise KeyError(f"unknown {self._kind} parameter set {name!r}; valid: {valid}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._sets)

    def __len__(self) -> int:
        return len(self._sets)


@dataclass(frozen=True, slots=True)
class Grades:
    """Ascending thresholds of a "higher is worse" quantity: watch < warning < critical."""

    watch: float
    warning: float
    critical: float

    def __post_init__(self) -> None:
        if not self.watch < self.warning < self.critical:
            raise ValueError(f"grades must ascend: {self.watch}, {self.warning}, {self.critical}")

    def as_tuple(self) -> tuple[float, float, float]:
        return (self.watch, self.warning, self.critical)


@dataclass(frozen=True, slots=True)
class TiltParams:
    """Root-plate tilt: residual lean, persisting steps, lean trend, failure.

    Time windows are shared by all sets; heritage sets differ in thresholds only.
    """

    name: str
    #: Residual lean (tilt − the tree's own baseline, pitch/roll magnitude) [deg].
    lean_deg: Grades
    #: Change of calm lean level across a storm, or within hours without one [deg].
    step_deg: Grades
    #: Sustained rate of increase of the lean [deg/day].
    trend_deg_per_day: Grades
    #: Tilt from the baseline at which the tree has fallen / the root plate failed [deg].
    failure_deg: float
    #: An active level clears below this fraction of its threshold.
    hysteresis: float = 0.8
    #: Calm reference period that establishes a tree's baseline: one daily temperature cycle
    #: [h]. Project choice.
    baseline_hours: float = 24.0
    #: Fit a temperature coefficient only if the reference temperatures span this much [°C];
    #: below it the coefficient is unidentifiable and is set to 0. Project choice.
    temp_fit_min_span_c: float = 4.0
    #: The current lean is the median of calm samples of the last ``current_minutes`` [min]
    #: (at most ``current_max_samples`` of them). Project choice: long enough to outvote a
    #: spike, short enough to follow a real change within the hour.
    current_minutes: float = 120.0
    current_max_samples: int = 64
    min_samples: int = 3
    #: Steps: calm level of ``step_pre_hours`` before the storm (or before the last
    #: ``step_post_minutes``) against the calm level after it [h], [min]. Project choice.
    step_pre_hours: float = 12.0
    step_post_minutes: float = 60.0
    #: After a storm ends, its before/after comparison is used for this long [h].
    step_storm_hours: float = 24.0
    #: Trend: robust least squares over the hourly calm medians of the last ``trend_days``,
    #: reported when they span ``trend_min_days``, slope / standard error >= ``trend_min_t``,
    #: and the day-to-day moves keep up with the rate (a step is not a trend). Project choice.
    trend_days: float = 7.0
    trend_min_days: float = 2.0
    trend_min_t: float = 4.0
    #: Failure: the newest ``failure_min_samples`` readings (wind or not) of the last
    #: ``failure_minutes`` must all be past ``failure_deg`` [min].
    failure_minutes: float = 30.0
    failure_min_samples: int = 2
    #: Storm-time non-elastic offset (tilt that does not spring back while the wind blows,
    #: :mod:`greeniot.analytics.tilt.response`) [deg]; warning needs the offset growing.
    storm_offset_deg: Grades = field(default_factory=lambda: Grades(0.25, 0.5, 1.6))
    #: Critical storm offset and calm lean on saturated ground (a waterlogged zone) [deg]: the
    #: 1.6–2.9° maximum-moment range was measured on partially saturated soil [Dundee]; wet soil
    #: loses anchorage earlier, so critical comes one anchor down, at 0.9° [James2013].
    wet_critical_deg: float = 0.9
    #: Offset growth over ``storm_growth_minutes`` that counts as "still yielding" [deg]:
    #: the step watch level, ~7× the 2-min noise [Domain]. Project choice.
    storm_growth_deg: float = 0.1
    storm_growth_minutes: float = 60.0
    #: Growth is measured at equal wind: against earlier samples whose load was within this
    #: fraction of the current one (±15 % of U² is ±7 % of the wind speed). Project choice.
    storm_equal_load_frac: float = 0.15
    #: The current storm offset is the median of the last ``storm_current_minutes`` [min]
    #: (3–4 readings at 5 min once their wind load is known). Project choice.
    storm_current_minutes: float = 20.0
    #: The offset must pass a threshold, and its growth the growth minimum, by
    #: ``storm_z`` standard errors of the tree's own scatter (gusts the station's 10-min mean
    #: misses scatter a compliant tree's readings by tenths of a degree; a storm is judged
    #: every tick, so one look at z = 2 would raise false alarms). Project choice.
    storm_z: float = 3.0
    #: Compliance blocks of ``storm_block_samples`` strong-wind samples (≥ ``storm_min_load_frac``
    #: of the storm's peak load); the ``storm_ref_quantile`` of their ratios is the elastic
    #: compliance (yield only adds tilt, so the stiffest blocks are elastic). Project choice.
    storm_block_samples: int = 6
    storm_ref_quantile: float = 0.25
    storm_min_load_frac: float = 0.3
    #: Storm samples looked at, newest first (16 h at 5-min readings). Project choice.
    storm_max_samples: int = 192
    #: Stiffness drop against the tree's own earlier storms, as a fraction of its stiffness
    #: (1 − c_history / c_now): watch / warning / critical. Project choice (no literature
    #: value); leaves change drag [Leaves], so only storms of the same season are compared.
    stiffness_drop_frac: Grades = field(default_factory=lambda: Grades(0.3, 0.45, 0.6))
    #: Mount fault: a jump between consecutive calm readings on both axes of at least
    #: ``mount_step_deg`` each, with a sensor temperature jump of at least ``mount_temp_c``,
    #: is the sensor moved, not the tree: a root plate does not rotate the same amount on both
    #: axes in one reading without wind, and never changes the sensor's temperature. The daily
    #: cycle moves a node's temperature by well under 1 °C per 10 min. Project choice.
    mount_step_deg: float = 0.3
    mount_temp_c: float = 3.0


#: Standard and heritage tilt sets.
#:
#: standard
#:   lean: watch 0.25° — the largest trunk-base tilt after which pulling tests show the root
#:   plate springs back undamaged [SAG]: a *persisting* residual beyond it is outside the range
#:   known to be elastic. warning 0.9° — larger than the largest root-plate tilt measured
#:   *dynamically* in strong natural wind, 0.88° [James2013]. critical 1.6° — the lower end of
#:   the 1.6–2.9° where uprooting tests found the maximum overturning moment [Dundee]: the
#:   anchorage is at its peak resistance, beyond it resistance falls.
#:   step: watch 0.1° — about 7× the ~0.015° noise of a 2-min averaged reading [Domain], so a
#:   real change, still elastic; warning 0.25° [SAG] (the plate did not spring back); critical
#:   0.9° [James2013]. The "sudden increase" alarm shape is from [Hui2022].
#:   trend: rates that would reach the next anchor within about a month (project choice
#:   derived from the figures): 0.01°/day → 0.25° [SAG] in 25 days; 0.03°/day → 0.9°
#:   [James2013] in 30 days; 0.1°/day → 2.9° [Dundee] in 29 days. "Increasing trend" alarm
#:   shape from [Hui2022].
#:   failure 10°: more than three times the 2.9° upper end of the maximum-moment range [Dundee],
#:   past which a root plate's resistance falls, so the tree is down or going down; also far
#:   above what a mis-fitted temperature coefficient can fake (MEMS drift is "degrees over the
#:   range" [Domain]), which is why it is not lower. A fallen trunk reads tens of degrees, so
#:   a higher figure (15°) would only add delay.
#: heritage (stricter, [Domain]; project choice of how much): every grade moves one anchor
#:   down — lean watch at 60 % of the elastic limit (0.15°), warning at it (0.25° [SAG]),
#:   critical at the wind maximum (0.9° [James2013]); steps watch 0.05° (≈3× noise [Domain]),
#:   warning 0.15°, critical 0.25° [SAG]; trend: the rates that reach its own lean grades
#:   (0.15°, 0.25°, 0.9°) within about a month (0.005, 0.01, 0.03 °/day).
#:   Failure is a fact, not a risk tolerance: same 10°.
#:   storm offset (non-elastic tilt while the wind blows): standard watch 0.25° [SAG] (past
#:   the elastic limit), warning 0.5° *and growing* (twice the elastic limit, still yielding:
#:   project choice), critical 1.6° [Dundee]; heritage one anchor down (0.15°, 0.25°, 0.9°).
TILT_PARAMS: ParamSets[TiltParams] = ParamSets("tilt", {
    "standard": TiltParams(
        name="standard",
        lean_deg=Grades(0.25, 0.9, 1.6),
        step_deg=Grades(0.1, 0.25, 0.9),
        trend_deg_per_day=Grades(0.01, 0.03, 0.1),
        failure_deg=10.0,
    ),
    "heritage": TiltParams(
        name="heritage",
        lean_deg=Grades(0.15, 0.25, 0.9),
        step_deg=Grades(0.05, 0.15, 0.25),
        trend_deg_per_day=Grades(0.005, 0.01, 0.03),
        failure_deg=10.0,
        storm_offset_deg=Grades(0.15, 0.25, 0.9),
        wet_critical_deg=0.5,
    ),
})


@dataclass(frozen=True, slots=True)
class StormParams:
    """Site-wide wind: storm episodes and the calm/windy mask of tilt samples."""

    name: str
    #: A tilt sample is windy when the site's 10-min mean wind is at least this [m/s]:
    #: Beaufort 5, "small trees in leaf begin to sway" [Beaufort].
    windy_ms: float = 8.0
    #: ... or its gust at least this [m/s]: Beaufort 7, "whole trees in motion" [Beaufort].
    windy_gust_ms: float = 13.9
    #: Storm onset: mean wind reaches Beaufort 8 gale, "twigs broken from trees" [Beaufort].
    onset_ms: float = 17.2
    #: Storm end: mean wind below Beaufort 6 (strong breeze) for ``end_hold_minutes``
    #: [Beaufort]; the gap to ``onset_ms`` is the hysteresis.
    end_ms: float = 10.8
    end_hold_minutes: float = 60.0
    #: A storm is critical once the wind reaches Beaufort 10, "trees uprooted" [Beaufort].
    severe_ms: float = 24.5
    #: Tilt samples stay "windy" this long after the last windy reading while the root plate
    #: and soil settle [min]. Project choice.
    settle_minutes: float = 30.0
    #: A wind reading older than this does not classify a tilt sample [min]; without one the
    #: sample counts as calm (stations a few km away are usable [Gocke2018], so a site should
    #: have one). Project choice.
    max_gap_minutes: float = 30.0
    #: Tilt samples are classified this long after their timestamp, so late weather readings
    #: are in [min]. Project choice.
    classify_lag_minutes: float = 5.0
    #: Sites without a weather station: the median burst sway RMS of the site's trees stands
    #: in for wind [deg]. Project choice, no literature value: tune by replay.
    sway_windy_rms_deg: float = 0.05
    sway_onset_rms_deg: float = 0.2
    sway_end_rms_deg: float = 0.1
    #: A windy spell (storm-time tilt assessment runs in it, storm or not) starts at
    #: ``windy_ms`` and ends once the mean wind stays below Beaufort 3's upper bound, 5.4 m/s
    #: ("leaves and small twigs in constant motion") [Beaufort], for ``end_hold_minutes``;
    #: without a station at ``sway_windy_rms_deg`` and below ``sway_spell_end_rms_deg``
    #: (about the noise floor of a band-passed burst of a 0.02° sensor). Project choice.
    spell_end_ms: float = 5.4
    sway_spell_end_rms_deg: float = 0.03


STORM_PARAMS: ParamSets[StormParams] = ParamSets("storm", {"default": StormParams("default")})


@dataclass(frozen=True, slots=True)
class SwayParams:
    """Burst sway analysis: RMS in band and dominant frequency against the tree's own past."""

    name: str
    #: Sway band [Hz]: large trees sway near 0.1 Hz, small ones up to ~1 Hz [Domain].
    band_low_hz: float = 0.05
    band_high_hz: float = 3.0
    #: Butterworth order of the band-pass (applied forward and backward). Project choice.
    filter_order: int = 4
    #: Shortest burst analysed [samples]: 64 samples at 10 Hz cover one 0.15 Hz cycle.
    min_samples: int = 64
    #: The Welch peak must stand this far above the band's median PSD for a frequency to be
    #: reported (else sensor noise decides it). Project choice.
    min_peak_ratio: float = 4.0
    #: Minimum in-band sway RMS for a trusted frequency [deg]. Project choice.
    min_rms_deg: float = 0.005
    #: Frequency drop below the tree's own baseline, as a fraction: watch/warning/critical.
    #: Project choice (no literature value); leaves lower the frequency [Leaves],
    #: [KaneJames2011], [Acer2010], so the baseline is the tree's own past in the same foliage
    #: state, not a fixed number.
    drop_frac: Grades = field(default_factory=lambda: Grades(0.10, 0.20, 0.35))
    #: Baseline = median frequency of bursts in the ``baseline_days`` before the recent ones.
    baseline_days: float = 14.0
    baseline_min_bursts: int = 5
    #: Recent frequency = median of the newest ``recent_bursts`` bursts: 5, as wind-driven
    #: sway scatters a few per cent per burst (a sine would need fewer). Project choice.
    recent_bursts: int = 5
    #: Seasonal baselines (:mod:`greeniot.analytics.sway.phenology`). Each tree keeps, per
    #: foliage state, the last ``season_ring`` trusted bursts at least ``season_spacing_h``
    #: [h] apart (one storm cannot fill it); its baseline is their median. Project choice.
    season_ring: int = 32
    season_spacing_h: float = 6.0
    #: Calendar windows of deciduous trees, northern hemisphere (southern: +182 days):
    #: leaf-out from 1 Apr, leaf-on from 16 May, leaf fall from 1 Oct, leaf-off from 16 Nov.
    #: Project choice of a temperate default; set per species or genus in
    #: ``windows_by_species``.
    season_windows: SeasonWindows = field(
        default_factory=lambda: SeasonWindows(leaf_out=91, leaf_on=136, leaf_fall=274,
                                              leaf_off=320))
    windows_by_species: Mapping[str, SeasonWindows] = field(
        default_factory=lambda: MappingProxyType({}))
    #: A frequency step shared by a site's deciduous trees within ``season_margin_days`` [day]
    #: of a calendar transition is phenology: each tree's drop is taken relative to the site
    #: median when at least ``season_min_trees`` deciduous trees are judged. 21 days: sway
    #: dates autumn up to two weeks from the camera [USGS2022], plus a week of year-to-year
    #: spread (project choice).
    season_margin_days: float = 21.0
    season_min_trees: int = 5
    #: A drop is graded only when it is at least ``drop_z`` standard errors, from the tree's
    #: own burst-to-burst frequency scatter (at least ``min_scatter``, relative; a young
    #: baseline's few bursts can look tighter than they are): wind-driven sway scatters
    #: 1–7 % per 300-s burst at ζ 0.05–0.1, about 3 % at 0.1–1 Hz and ζ 0.05 (measured on the
    #: simulator's damped mode, docs/tree-risk.md). z = 3 as for the storm offset (judged every
    #: tick). Project choice.
    drop_z: float = 3.0
    min_scatter: float = 0.025


SWAY_PARAMS: ParamSets[SwayParams] = ParamSets("sway", {"default": SwayParams("default")})


@dataclass(frozen=True, slots=True)
class SoilParams:
    """Zone water status from soil probes. Zone refill/saturation points come from the
    registry (:class:`greeniot.estate.ZoneInfo`); probes bound to no known zone use
    ``ZoneInfo``'s defaults."""

    name: str
    #: A probe's level is the median of its samples in the last ``smooth_hours`` [h], needing
    #: ``min_samples`` of them: one noisy sample cannot move it. Project choice.
    smooth_hours: float = 3.0
    min_samples: int = 3
    #: Drought clears above refill + this [%VWC]; waterlogging's clock restarts below
    #: saturation − this. Project choice (about the noise of a capacitive probe).
    hysteresis_pct: float = 2.0
    #: Waterlogging on calibrated θ: a probe is wet above θFC + ``waterlog_margin_m3``
    #: [m³ m⁻³] — one RMSE of a soil-specific multipoint calibration of a capacitance probe
    #: (0.031 in six soils, Fragkos et al. 2025, Land 14(2) 242, doi:10.3390/land14020242),
    #: so a probe at field capacity does not read as wet — and its clock restarts below
    #: θFC + margin − ``waterlog_hysteresis_m3``. Only probes whose calibration trust
    #: (``DeviceBinding.probe_weight``, the calibration kind's weight included) is at least
    #: ``waterlog_min_weight`` judge θ: the per-soil default calibration (weight 0.25, slope
    #: error ±15 % of θ) cannot tell θFC from θFC + 0.03.
    waterlog_margin_m3: float = 0.03
    waterlog_hysteresis_m3: float = 0.01
    waterlog_min_weight: float = 0.5


SOIL_PARAMS: ParamSets[SoilParams] = ParamSets("soil", {"default": SoilParams("default")})


def _ro(d: Mapping[str, T]) -> Mapping[str, T]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True, slots=True)
class HealthParams:
    """Device health: silence, battery, stuck / noisy / out-of-range sensors, clocks.

    Plausible value ranges per device kind and sensor (battery chemistry, soil θ) are in
    :mod:`greeniot.protocol.plausible` (ingest flags with the same table); here are the
    thresholds of the faults judged over time.
    """

    name: str
    #: Offline after ``offline_factor`` × the device's own reporting interval without a
    #: reading, and never before ``min_silence_s`` [s]: three missed readings, because one lost
    #: QoS-1 message is resent and a node may defer a reading while its radio reconnects; two
    #: minutes covers MQTT keepalive (30 s) plus a reconnect with backoff. Project choice.
    offline_factor: float = 3.0
    min_silence_s: float = 120.0
    #: Interval assumed until a device has sent ``interval_min_samples`` readings [s].
    default_interval_s: Mapping[str, float] = field(default_factory=lambda: _ro(
        {"soil": 900.0, "tilt": 300.0, "weather": 600.0}))
    interval_min_samples: int = 4
    #: Battery (median of the newest 3 readings, so one radio-burst sag is ignored) [V], per
    #: chemistry (:data:`greeniot.protocol.plausible.CHEMISTRY`). One Li-ion cell: 3.4 V is
    #: below the flat middle of its discharge curve (days of margin at our duty cycle), 3.2 V
    #: near the brown-out of a 3.3 V LDO regulator [BU409]. 12 V lead-acid: 12.0 V is about
    #: 40 % state of charge at rest, 11.8 V about 25 %, below which sulfation harms it [BU403].
    battery_warning_v: Mapping[str, float] = field(default_factory=lambda: _ro(
        {"li_ion_1s": 3.4, "lead_acid_12v": 12.0}))
    battery_critical_v: Mapping[str, float] = field(default_factory=lambda: _ro(
        {"li_ion_1s": 3.2, "lead_acid_12v": 11.8}))
    battery_hysteresis_v: float = 0.1
    #: Stuck: the number of equal newest readings is chosen per device from its own noise
    #: (:func:`greeniot.analytics.health.detect.stuck_samples`) so that a live sensor looks
    #: stuck with chance at most ``stuck_false_alarm_p`` per check (one in a million: at 15-min
    #: readings, one false alarm per ~30 device-years), within ``stuck_min_samples`` ..
    #: ``stuck_max_samples`` (the latter also used until ``stuck_min_history`` differences are
    #: known). Soil may truly not change for hours, and a quiet probe repeats itself, hence the
    #: larger cap (12 h at 15 min); averaged tilt always varies in its last digits.
    stuck_false_alarm_p: float = 1e-6
    stuck_min_samples: int = 3
    stuck_max_samples: Mapping[str, int] = field(default_factory=lambda: _ro(
        {"soil": 48, "tilt": 24}))
    stuck_min_history: int = 8
    #: Noisy: median successive difference over the newest ``noise_samples`` readings at or
    #: above this (units of the value: deg, %VWC). A real step is one big difference, not a
    #: median one. Tilt 1°: 60× the ~0.015° noise of a 2-min averaged MEMS reading [Domain];
    #: soil 10 %VWC: a probe jumping between dry and wet.
    noise_limit: Mapping[str, float] = field(default_factory=lambda: _ro(
        {"soil": 10.0, "tilt": 1.0}))
    noise_samples: int = 12
    #: Rail values per kind: a capacitive probe reading exactly 0 or 100 % is open or shorted.
    #: Tilt has none: big tilts are the failure detector's, not a sensor fault.
    valid_range: Mapping[str, tuple[float, float]] = field(
        default_factory=lambda: _ro({"soil": (0.5, 99.5)}))
    #: A sensor is out of range when at least this fraction of its newest ``noise_samples``
    #: readings is at a rail or implausible: 2 of 12, so one odd spike is stored flagged and
    #: left out, a repeating one is a fault.
    out_of_range_frac: float = 0.15
    #: A device clock is wrong when its timestamps are ahead of receive time by more than the
    #: ingest bound (``Settings.ingest.max_future_s``), older than the ingest maximum age
    #: (a clock reset to 2000-01-01), step back, or lag receive time by more than that bound on
    #: readings received at least ``clock_live_span_s`` apart (a backlog arrives in seconds);
    #: it recovers after ``clock_recover_readings`` good readings in a row.
    clock_live_span_s: float = 1800.0
    clock_recover_readings: int = 3
    #: ... or are ahead of the median of the site's other devices by more than this [s]: the
    #: median lags the newest reading by up to one reporting interval (15 min for soil), so
    #: twice that. It catches a jump in a replay or a backlog, where receive time runs
    #: elsewhere. Project choice.
    clock_site_bound_s: float = 1800.0


HEALTH_PARAMS: ParamSets[HealthParams] = ParamSets("health", {"default": HealthParams("default")})


@dataclass(frozen=True, slots=True)
class AnalyticsParams:
    """Everything the engine needs, one set per domain."""

    tilt: TiltParams = field(default_factory=lambda: TILT_PARAMS["standard"])
    heritage_tilt: TiltParams = field(default_factory=lambda: TILT_PARAMS["heritage"])
    storm: StormParams = field(default_factory=lambda: STORM_PARAMS["default"])
    sway: SwayParams = field(default_factory=lambda: SWAY_PARAMS["default"])
    soil: SoilParams = field(default_factory=lambda: SOIL_PARAMS["default"])
    health: HealthParams = field(default_factory=lambda: HEALTH_PARAMS["default"])
