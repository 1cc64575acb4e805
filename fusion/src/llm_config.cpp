#include "sfvu/fusion/llm_config.h"

#include <sstream>

#include "sfvu/base/error.h"
#include "sfvu/pathways/json_fields.h"

namespace sfvu::fusion {
namespace {

using nlohmann::json;
using pathways::read_json_field;

std::string format_factor(double factor) {
  std::ostringstream out;
  out << factor;
  return out.str();
}

// Accepts {"type"|"rope_type": ..., "factor": f}; "default" (and null) mean no scaling.
RopeScaling rope_scaling_from(const json& j, const std::string& where) {
  RopeScaling r;
  if (j.is_null()) return r;
  if (!j.is_object()) throw FormatError(where + ": key 'rope_scaling' must be an object or null (" + j.dump() + ")");
  std::string type;
  read_json_field(j, "type", type, where + ": rope_scaling");
  read_json_field(j, "rope_type", type, where + ": rope_scaling");  // transformers >= 4.43 spelling wins
  if (type.empty() || type == "default") return r;
  if (type == "linear") {
    r.kind = RopeScaling::Kind::kLinear;
  } else if (type == "dynamic") {
    r.kind = RopeScaling::Kind::kDynamic;
  } else {
    throw FormatError(where + ": key 'rope_scaling' has type '" + type + "', which is not supported (linear, dynamic)");
  }
  if (!j.contains("factor") || !j["factor"].is_number())
    throw FormatError(where + ": key 'rope_scaling' needs a numeric 'factor'");
  r.factor = j["factor"].get<double>();
  if (!(r.factor >= 1.0)) throw FormatError(where + ": key 'rope_scaling' factor " + format_factor(r.factor) + " < 1");
  return r;
}

// eos_token_id: an int or a list of ints.
std::vector<int64_t> token_ids_from(const json& j, const std::string& where, const char* key) {
  try {
    if (j.is_array()) return j.get<std::vector<int64_t>>();
    return {j.get<int64_t>()};
  } catch (const json::exception&) {
    throw FormatError(where + ": key '" + key + "' must be an int or a list of ints (" + j.dump() + ")");
  }
}

void check_positive(int64_t value, const char* key, const std::string& where) {
  if (value <= 0) throw FormatError(where + ": key '" + key + "' must be positive (got " + std::to_string(value) + ")");
}

void validate(const LlmConfig& c, const std::string& where) {
  check_positive(c.vocab_size, "vocab_size", where);
  check_positive(c.hidden_size, "hidden_size", where);
  check_positive(c.intermediate_size, "intermediate_size", where);
  check_positive(c.num_hidden_layers, "num_hidden_layers", where);
  check_positive(c.num_attention_heads, "num_attention_heads", where);
  check_positive(c.num_key_value_heads, "num_key_value_heads", where);
  check_positive(c.max_position_embeddings, "max_position_embeddings", where);
  if (c.head_dim_override <= 0 && c.hidden_size % c.num_attention_heads != 0)
    throw FormatError(where + ": key 'hidden_size' " + std::to_string(c.hidden_size) +
                      " is not divisible by num_attention_heads " + std::to_string(c.num_attention_heads));
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    throw FormatError(where + ": key 'num_key_value_heads' " + std::to_string(c.num_key_value_heads) +
                      " does not divide num_attention_heads " + std::to_string(c.num_attention_heads));
  if (c.head_dim() % 2 != 0)
    throw FormatError(where + ": head_dim " + std::to_string(c.head_dim()) + " is odd (RoPE rotates pairs)");
  if (c.hidden_act != "silu" && c.hidden_act != "swish")
    throw FormatError(where + ": key 'hidden_act' is '" + c.hidden_act + "', which is not supported (silu)");
  if (!(c.rms_norm_eps > 0)) throw FormatError(where + ": key 'rms_norm_eps' must be positive");
  if (!(c.rope_theta > 0)) throw FormatError(where + ": key 'rope_theta' must be positive");
}

}  // namespace

std::string RopeScaling::to_string() const {
  switch (kind) {
    case Kind::kNone: return "none";
    case Kind::kLinear: return "linear:" + format_factor(factor);
    case Kind::kDynamic: return "dynamic:" + format_factor(factor);
  }
  return "none";
}

RopeScaling RopeScaling::parse(const std::string& spec) {
  RopeScaling r;
  if (spec == "none") return r;
  const size_t colon = spec.find(':');
  const std::string type = spec.substr(0, colon);
  if (colon != std::string::npos && (type == "linear" || type == "dynamic")) {
    const std::string number = spec.substr(colon + 1);
    size_t used = 0;
    try {
      r.factor = std::stod(number, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == number.size() && used > 0 && r.factor >= 1.0) {
      r.kind = type == "linear" ? Kind::kLinear : Kind::kDynamic;
      return r;
    }
  }
  throw UsageError("rope scaling '" + spec + "': expected none, linear:F or dynamic:F with F >= 1");
}

int64_t LlmConfig::parameter_count() const {
  const int64_t D = hidden_size, F = intermediate_size, hd = head_dim();
  const int64_t q = int64_t{num_attention_heads} * hd, kv = int64_t{num_key_value_heads} * hd;
  const bool qwen2 = model_type == "qwen2";
  int64_t attn = D * q + 2 * D * kv + q * D;
  if (attention_bias || qwen2) attn += q + 2 * kv;
  if (attention_bias && !qwen2) attn += D;
  int64_t mlp = 3 * D * F + (mlp_bias ? 2 * F + D : 0);
  const int64_t layer = attn + mlp + 2 * D;
  return vocab_size * D + num_hidden_layers * layer + D + (tie_word_embeddings ? 0 : vocab_size * D);
}

LlmConfig LlmConfig::defaults(const std::string& model_type, const std::string& where) {
  LlmConfig c;  // the member initialisers are LlamaConfig's defaults
  c.model_type = model_type;
  if (model_type == "llama") return c;
  if (model_type == "mistral") {
    c.intermediate_size = 14336;
    c.num_key_value_heads = 8;
    c.max_position_embeddings = 4096 * 32;
    c.sliding_window = 4096;
    return c;
  }
  if (model_type == "qwen2") {
    c.vocab_size = 151936;
    c.intermediate_size = 22016;
    c.max_position_embeddings = 32768;
    c.attention_bias = true;
    c.bos_token_id = -1;
    c.eos_token_ids = {151643};  // <|endoftext|>: Qwen2Config itself has none
    return c;
  }
  throw FormatError(where + ": key 'model_type' is '" + model_type +
                    "', which is not a supported language model (llama, mistral, qwen2)");
}

LlmConfig LlmConfig::from_json(const json& j, const std::string& where) {
  if (!j.is_object()) throw FormatError(where + ": expected a JSON object for the language model config");
  std::string type = "llama";
  read_json_field(j, "model_type", type, where);
  LlmConfig c = defaults(type, where);
  read_json_field(j, "vocab_size", c.vocab_size, where);
  read_json_field(j, "hidden_size", c.hidden_size, where);
  read_json_field(j, "intermediate_size", c.intermediate_size, where);
  read_json_field(j, "num_hidden_layers", c.num_hidden_layers, where);
  read_json_field(j, "num_attention_heads", c.num_attention_heads, where);
  // Absent: LlamaConfig uses num_attention_heads, Mistral/Qwen2 their class defaults (8, 32);
  // an explicit null means num_attention_heads for all three.
  if (j.contains("num_key_value_heads") ? j["num_key_value_heads"].is_null() : type == "llama")
    c.num_key_value_heads = c.num_attention_heads;
  read_json_field(j, "num_key_value_heads", c.num_key_value_heads, where);
  if (type != "qwen2") read_json_field(j, "head_dim", c.head_dim_override, where);
  read_json_field(j, "max_position_embeddings", c.max_position_embeddings, where);
  read_json_field(j, "rms_norm_eps", c.rms_norm_eps, where);
  read_json_field(j, "rope_theta", c.rope_theta, where);
  if (j.contains("rope_scaling")) c.rope_scaling = rope_scaling_from(j["rope_scaling"], where);
  if (type == "llama") {
    read_json_field(j, "attention_bias", c.attention_bias, where);
    read_json_field(j, "mlp_bias", c.mlp_bias, where);
  }
  if (type == "mistral") {
    if (j.contains("sliding_window") && j["sliding_window"].is_null()) c.sliding_window = 0;
    read_json_field(j, "sliding_window", c.sliding_window, where);
  }
  if (type == "qwen2") {
    bool use_sliding_window = false;
    read_json_field(j, "use_sliding_window", use_sliding_window, where);
    if (use_sliding_window) {
      c.sliding_window = 4096;
      read_json_field(j, "sliding_window", c.sliding_window, where);
    }
  }
  read_json_field(j, "tie_word_embeddings", c.tie_word_embeddings, where);
  read_json_field(j, "hidden_act", c.hidden_act, where);
  read_json_field(j, "bos_token_id", c.bos_token_id, where);
  if (j.contains("eos_token_id") && !j["eos_token_id"].is_null())
    c.eos_token_ids = token_ids_from(j["eos_token_id"], where, "eos_token_id");
  if (c.sliding_window < 0) throw FormatError(where + ": key 'sliding_window' must not be negative");
  validate(c, where);
  return c;
}

json LlmConfig::to_json() const {
  json j;
  j["model_type"] = model_type;
  j["vocab_size"] = vocab_size;
  j["hidden_size"] = hidden_size;
  j["intermediate_size"] = intermediate_size;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_attention_heads"] = num_attention_heads;
  j["num_key_value_heads"] = num_key_value_heads;
  if (model_type != "qwen2") j["head_dim"] = head_dim();
  j["max_position_embeddings"] = max_position_embeddings;
  j["rms_norm_eps"] = rms_norm_eps;
  j["rope_theta"] = rope_theta;
  if (rope_scaling.kind == RopeScaling::Kind::kNone) {
    j["rope_scaling"] = nullptr;
  } else {
    const char* type = rope_scaling.kind == RopeScaling::Kind::kLinear ? "linear" : "dynamic";
    j["rope_scaling"] = {{"type", type}, {"rope_type", type}, {"factor", rope_scaling.factor}};
  }
  if (model_type == "llama") {
    j["attention_bias"] = attention_bias;
    j["mlp_bias"] = mlp_bias;
  }
  if (model_type == "qwen2") j["use_sliding_window"] = sliding_window > 0;
  j["sliding_window"] = sliding_window > 0 ? json(sliding_window) : json(nullptr);
  j["tie_word_embeddings"] = tie_word_embeddings;
  j["hidden_act"] = hidden_act;
  j["bos_token_id"] = bos_token_id >= 0 ? json(bos_token_id) : json(nullptr);
  j["eos_token_id"] = eos_token_ids.size() == 1 ? json(eos_token_ids[0]) : json(eos_token_ids);
  return j;
}

LlmConfig LlmConfig::qwen2_0_5b() {
  LlmConfig c = defaults("qwen2");
  c.vocab_size = 152000;  // 151936 + <image>, <video>, padded to a multiple of 64
  c.hidden_size = 896;
  c.intermediate_size = 4864;
  c.num_hidden_layers = 24;
  c.num_attention_heads = 14;
  c.num_key_value_heads = 2;
  c.rope_theta = 1000000.0;
  c.tie_word_embeddings = true;
  c.bos_token_id = 151643;
  c.eos_token_ids = {151645};  // <|im_end|>
  return c;
}

LlmConfig LlmConfig::vicuna_7b() {
  LlmConfig c = defaults("llama");
  c.vocab_size = 32064;  // 32000 + <image>, <pad>, padded to a multiple of 64
  c.max_position_embeddings = 4096;
  c.rms_norm_eps = 1e-5;
  return c;
}

}  // namespace sfvu::fusion
