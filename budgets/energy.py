"""Energy and CO2e of a run: codecarbon's offline tracker when it is installed (the ``energy`` extra),
otherwise an estimate from process CPU time and a nominal power per core, always labelled as such."""
from __future__ import annotations

import logging
import os
import time

import torch

logger = logging.getLogger(__name__)

#: Assumed average power drawn per busy CPU core (watts) for the estimate: server cores draw roughly
#: 5-15 W under load (a 64-core, 280 W EPYC is about 4.4 W per core at TDP, desktop cores more).
DEFAULT_WATTS_PER_CPU_CORE = 10.0
#: Assumed GPU board power (watts) for the estimate when NVML readings are unavailable.
DEFAULT_GPU_WATTS = 300.0
#: World-average carbon intensity of electricity, gCO2e/kWh (the figure codecarbon falls back to).
WORLD_CARBON_INTENSITY = 475.0


def codecarbon_available() -> bool:
    """True when ``codecarbon`` can be imported (``pip install greennlp[energy]``)."""
    try:
        import codecarbon  # noqa: F401
    except ImportError:
        return False
    return True


class EnergyMeter:
    """Measure the energy of one stretch of work: ``start()``, then ``stop()`` returns a dict.

    Parameters
    ----------
    use_codecarbon:
        ``None`` (default) uses codecarbon when installed; ``False`` always estimates; ``True`` requires it.
    country_iso_code:
        Three-letter country code for codecarbon's offline carbon intensity (e.g. ``"USA"``, ``"FRA"``).
    watts_per_cpu_core, gpu_watts, carbon_intensity:
        Assumptions of the estimate used without codecarbon (reported in the result).
    gpu:
        Whether the work runs on a GPU, which the estimate adds at ``gpu_watts``; ``None`` means whenever torch
        sees one (pass ``False`` for CPU work on a machine with a GPU).
    """

    def __init__(
        self,
        use_codecarbon: bool | None = None,
        country_iso_code: str = "USA",
        watts_per_cpu_core: float = DEFAULT_WATTS_PER_CPU_CORE,
        gpu_watts: float = DEFAULT_GPU_WATTS,
        carbon_intensity: float = WORLD_CARBON_INTENSITY,
        gpu: bool | None = None,
    ) -> None:
        if use_codecarbon and not codecarbon_available():
            raise ImportError("use_codecarbon=True but codecarbon is not installed: `pip install greennlp[energy]`.")
        self.use_codecarbon = codecarbon_available() if use_codecarbon is None else use_codecarbon
        self.country_iso_code = country_iso_code
        self.watts_per_cpu_core = watts_per_cpu_core
        self.gpu_watts = gpu_watts
        self.carbon_intensity = carbon_intensity
        self.gpu = gpu
        self._tracker = None

    def start(self) -> None:
        self._wall = time.perf_counter()
        self._cpu = _process_cpu_seconds()
        if self.use_codecarbon:
            try:
                from codecarbon import OfflineEmissionsTracker

                self._tracker = OfflineEmissionsTracker(
                    country_iso_code=self.country_iso_code, save_to_file=False, log_level="error",
                    measure_power_secs=5,
                )
                self._tracker.start()
            except Exception as error:  # codecarbon raises many types on unusual hardware; estimate instead
                logger.warning("codecarbon could not start (%s); falling back to the CPU-time estimate.", error)
                self._tracker = None

    def stop(self) -> dict:
        """Return ``energy_kwh``, ``co2e_kg`` and ``energy_method`` (what was measured or assumed)."""
        wall = time.perf_counter() - self._wall
        cpu_seconds = _process_cpu_seconds() - self._cpu
        if self._tracker is not None:
            tracker, self._tracker = self._tracker, None
            try:
                co2e = tracker.stop()
                data = tracker.final_emissions_data
                if co2e is not None and data is not None:
                    return {
                        "energy_kwh": float(data.energy_consumed),
                        "co2e_kg": float(co2e),
                        "energy_method": f"codecarbon {_codecarbon_version()} offline tracker "
                        f"(country {self.country_iso_code}; CPU power {data.cpu_power:.1f} W as it reports)",
                    }
            except Exception as error:
                logger.warning("codecarbon failed to stop (%s); falling back to the CPU-time estimate.", error)
        watts_cpu = cpu_seconds * self.watts_per_cpu_core  # joules
        on_gpu = torch.cuda.is_available() if self.gpu is None else self.gpu
        watts_gpu = wall * self.gpu_watts if on_gpu else 0.0
        energy_kwh = (watts_cpu + watts_gpu) / 3.6e6
        method = (
            f"estimate: process CPU time {cpu_seconds:.1f} s x {self.watts_per_cpu_core:g} W/core"
            + (f" + wall time x {self.gpu_watts:g} W GPU" if watts_gpu else "")
            + f"; {self.carbon_intensity:g} gCO2e/kWh"
        )
        return {
            "energy_kwh": energy_kwh,
            "co2e_kg": energy_kwh * self.carbon_intensity / 1000.0,
            "energy_method": method,
        }


def _process_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _codecarbon_version() -> str:
    import codecarbon

    return getattr(codecarbon, "__version__", "")
