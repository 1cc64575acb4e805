// Options of the commands that run the video pipeline (ground, qa, bench pathways): the
// SlowFast sampling (--preset and per-pathway overrides), the training-free head, the token
// cache, the model and the decoder.
#pragma once

#include "cli_common.h"
#include "model_options.h"
#include "sfvu/grounding/video_pipeline.h"

namespace sfvu::cli {

/// Adds --preset, --slow-fps/--fast-fps, --slow-frames/--fast-frames, --slow-size/--fast-size,
/// --slow-pool/--fast-pool, --slow-pairs, --layer, --resize, --token-budget, --clip-seconds,
/// --slow-weight, --cache-dir/--no-cache, the model options and the decoder options.
void add_pipeline_options(po::options_description& desc);
/// The options as given: the preset first, then every flag the user set explicitly.
grounding::PipelineOptions pipeline_options(const po::variables_map& vm);
/// Loads the model and builds the pipeline with `options` (from pipeline_options(vm), maybe
/// adjusted by the command); honours --torch-threads.
std::shared_ptr<const grounding::VideoPipeline> load_pipeline(const po::variables_map& vm,
                                                              const grounding::PipelineOptions& options);

}  // namespace sfvu::cli
