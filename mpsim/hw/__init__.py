"""Hardware profiles: validated, named, documented descriptions of the accelerators simulated.

Every number in a profile carries a unit and a source; ``mpsim.hw.profile.load_profile``
checks them and converts them to SI so that the engines never see a unit.
"""

from mpsim.hw.profile import Crossbar, Energy, Numerics, Profile, list_profiles, load_profile

__all__ = ["Crossbar", "Energy", "Numerics", "Profile", "list_profiles", "load_profile"]
