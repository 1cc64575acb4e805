#include "sfvu/fusion/fusion_config.h"

#include "sfvu/base/choice.h"
#include "sfvu/base/error.h"
#include "sfvu/pathways/json_fields.h"

namespace sfvu::fusion {

namespace {
using pathways::read_json_field;
}  // namespace

nlohmann::json FusionConfig::to_json() const {
  return {{"timeline_dim", timeline_dim}, {"slow_dim", slow_dim},   {"text_dim", text_dim}, {"timeline_token_dim", timeline_token_dim},
          {"d_model", d_model},           {"num_heads", num_heads}, {"temporal_layers", temporal_layers},
          {"post_layers", post_layers},   {"conv_kernel", conv_kernel}, {"mlp_ratio", mlp_ratio}, {"time_frequencies", time_frequencies},
          {"dropout", dropout}, {"detail_probe", detail_probe}, {"motion_seconds", motion_seconds},
          {"motion_match", motion_match}, {"motion_match_steps", motion_match_steps}, {"detail_match", detail_match},
          {"align_pool", align_pool}, {"align_heads", align_heads}, {"flow_scale", flow_scale}};
}

std::string align_pool_problem(const std::string& pool) {
  return choice_problem(pool, {"place", "channel"});
}

std::string align_heads_problem(const std::string& heads) {
  return choice_problem(heads, {"shared", "pathway"});
}

std::string flow_scale_problem(const std::string& scale) {
  return choice_problem(scale, {"raw", "tokens"});
}

FusionConfig FusionConfig::from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw FormatError(where + ": expected an object");
  FusionConfig c;
  read_json_field(j, "timeline_dim", c.timeline_dim, where);
  read_json_field(j, "slow_dim", c.slow_dim, where);
  read_json_field(j, "text_dim", c.text_dim, where);
  read_json_field(j, "timeline_token_dim", c.timeline_token_dim, where);
  read_json_field(j, "d_model", c.d_model, where);
  read_json_field(j, "num_heads", c.num_heads, where);
  read_json_field(j, "temporal_layers", c.temporal_layers, where);
  read_json_field(j, "post_layers", c.post_layers, where);
  c.conv_kernel = 0;  // a config without the key predates the temporal convolution
  read_json_field(j, "conv_kernel", c.conv_kernel, where);
  read_json_field(j, "mlp_ratio", c.mlp_ratio, where);
  read_json_field(j, "time_frequencies", c.time_frequencies, where);
  read_json_field(j, "dropout", c.dropout, where);
  c.detail_probe = false;  // a config without the key predates the probe
  read_json_field(j, "detail_probe", c.detail_probe, where);
  c.motion_seconds = 0;  // a config without the key predates the motion tokens
  read_json_field(j, "motion_seconds", c.motion_seconds, where);
  if (!(c.motion_seconds >= 0)) throw FormatError(where + ": motion_seconds must be >= 0");
  c.motion_match = 0;  // a config without the key predates the motion match
  read_json_field(j, "motion_match", c.motion_match, where);
  if (c.motion_match < 0) throw FormatError(where + ": motion_match must be >= 0");
  c.motion_match_steps = 1;  // a config without the key predates the match's temporal convolution
  read_json_field(j, "motion_match_steps", c.motion_match_steps, where);
  if (c.motion_match_steps < 1 || c.motion_match_steps % 2 == 0)
    throw FormatError(where + ": motion_match_steps must be odd and >= 1, got " + std::to_string(c.motion_match_steps));
  c.detail_match = false;  // a config without the key predates the detail match
  read_json_field(j, "detail_match", c.detail_match, where);
  c.align_pool = "place";  // a config without the key predates the channel pooling
  read_json_field(j, "align_pool", c.align_pool, where);
  if (std::string problem = align_pool_problem(c.align_pool); !problem.empty())
    throw FormatError(where + ": align_pool " + problem);
  c.align_heads = "shared";  // a config without the key predates the per-pathway heads
  read_json_field(j, "align_heads", c.align_heads, where);
  if (std::string problem = align_heads_problem(c.align_heads); !problem.empty())
    throw FormatError(where + ": align_heads " + problem);
  c.flow_scale = "raw";  // a config without the key predates the flow's scaling
  read_json_field(j, "flow_scale", c.flow_scale, where);
  if (std::string problem = flow_scale_problem(c.flow_scale); !problem.empty())
    throw FormatError(where + ": flow_scale " + problem);
  if (c.d_model <= 0 || c.num_heads <= 0 || c.d_model % c.num_heads != 0)
    throw FormatError(where + ": d_model " + std::to_string(c.d_model) + " is not divisible by num_heads " +
                      std::to_string(c.num_heads));
  if (c.conv_kernel < 0 || (c.conv_kernel > 0 && c.conv_kernel % 2 == 0))
    throw FormatError(where + ": conv_kernel must be 0 or odd, got " + std::to_string(c.conv_kernel));
  if (c.timeline_dim <= 0 || c.slow_dim <= 0 || c.text_dim <= 0)
    throw FormatError(where + ": timeline_dim, slow_dim and text_dim must be positive");
  return c;
}

}  // namespace sfvu::fusion
