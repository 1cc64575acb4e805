// Private: placing the synthetic benchmark's actors in the frame (synth_layout.cpp).
#pragma once

#include <string>
#include <vector>

#include "sfvu/grounding/synth.h"
#include "synth_rng.h"

namespace sfvu::grounding::synth_detail {

/// Sets every actor's x, y (and a marked actor's mark_x, mark_y, Note [Mark alignment]) so
/// that each actor's whole path stays 2 px inside the frame and the paths of actors visible
/// at the same time stay 2 px apart. Positions are drawn by rejection (300 tries per actor);
/// when one actor cannot be placed the whole layout is re-drawn with the next random draws.
/// Throws sfvu::Error naming `vid` if 200 layouts fail (not seen for sizes >= 64).
void lay_out_actors(std::vector<SynthActor>& actors, int size, SynthRng& rng, const std::string& vid);

}  // namespace sfvu::grounding::synth_detail
