// Unit tests of frame_format.h: the geometry of crop/letterbox/stretch (place()) on cases
// computed by hand, and the option-name parsers.
#include "sfvu/decode/frame_format.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <utility>

#include "sfvu/base/error.h"
#include "support/test_support.h"

namespace sfvu::decode {
namespace {

// Scaled sizes are checked within +-1 (the rounding of the scale factor is the
// implementation's), the side that matches the output exactly, and the centring rule exactly:
// offset = (out - scaled) / 2 with C++ integer division, applied to the scaled size returned.
void expect_centred(const Placement& p, int out_w, int out_h) {
  EXPECT_EQ(p.x, (out_w - p.scaled_width) / 2) << "scaled " << p.scaled_width << "x" << p.scaled_height;
  EXPECT_EQ(p.y, (out_h - p.scaled_height) / 2) << "scaled " << p.scaled_width << "x" << p.scaled_height;
}

TEST(Place, CropLandscapeIntoSquare) {
  // 640x272 -> 224x224: scale by 224/272 so the height fits; width 640 * 224 / 272 = 527.06.
  Placement p = place(640, 272, 224, 224, ResizeMode::kCrop);
  EXPECT_NEAR(p.scaled_width, 527, 1);
  EXPECT_EQ(p.scaled_height, 224);
  expect_centred(p, 224, 224);
  EXPECT_EQ(p.y, 0);
  EXPECT_LT(p.x, 0);  // cropped left and right
  if (p.scaled_width == 527) { EXPECT_EQ(p.x, -151); }  // (224 - 527) / 2
}

TEST(Place, CropPortraitIntoSquare) {
  // Rotated nasa clip: 270x480 -> 224x224: width fits; height 480 * 224 / 270 = 398.2.
  Placement p = place(270, 480, 224, 224, ResizeMode::kCrop);
  EXPECT_EQ(p.scaled_width, 224);
  EXPECT_NEAR(p.scaled_height, 398, 1);
  expect_centred(p, 224, 224);
  EXPECT_EQ(p.x, 0);
  if (p.scaled_height == 398) { EXPECT_EQ(p.y, -87); }
}

TEST(Place, CropIntoNonSquareOutput) {
  // 1920x1080 -> 160x120: scale 120/1080 covers (160/1920 would not); width 213.3.
  Placement p = place(1920, 1080, 160, 120, ResizeMode::kCrop);
  EXPECT_NEAR(p.scaled_width, 213, 1);
  EXPECT_EQ(p.scaled_height, 120);
  expect_centred(p, 160, 120);
  if (p.scaled_width == 213) { EXPECT_EQ(p.x, -26); }
}

TEST(Place, CropOddSize) {
  // 321x241 -> 224x224: height fits, width 321 * 224 / 241 = 298.4.
  Placement p = place(321, 241, 224, 224, ResizeMode::kCrop);
  EXPECT_NEAR(p.scaled_width, 298, 1);
  EXPECT_EQ(p.scaled_height, 224);
  expect_centred(p, 224, 224);
}

TEST(Place, CropUpscales) {
  // 64x64 -> 128x96: scale 2 covers; 128x128 cropped to 96 rows.
  Placement p = place(64, 64, 128, 96, ResizeMode::kCrop);
  EXPECT_EQ(p.scaled_width, 128);
  EXPECT_EQ(p.scaled_height, 128);
  EXPECT_EQ(p.x, 0);
  EXPECT_EQ(p.y, -16);
}

TEST(Place, LetterboxLandscapeIntoSquare) {
  // 640x272 -> 224x224: width fits, height 272 * 224 / 640 = 95.2, padded top and bottom.
  Placement p = place(640, 272, 224, 224, ResizeMode::kLetterbox);
  EXPECT_EQ(p.scaled_width, 224);
  EXPECT_NEAR(p.scaled_height, 95, 1);
  expect_centred(p, 224, 224);
  EXPECT_EQ(p.x, 0);
  EXPECT_GT(p.y, 0);
  if (p.scaled_height == 95) { EXPECT_EQ(p.y, 64); }
}

TEST(Place, LetterboxPortraitIntoSquare) {
  // 270x480 -> 112x112: height fits, width 270 * 112 / 480 = 63.
  Placement p = place(270, 480, 112, 112, ResizeMode::kLetterbox);
  EXPECT_NEAR(p.scaled_width, 63, 1);
  EXPECT_EQ(p.scaled_height, 112);
  expect_centred(p, 112, 112);
  EXPECT_EQ(p.y, 0);
  if (p.scaled_width == 63) { EXPECT_EQ(p.x, 24); }
}

TEST(Place, LetterboxUpscales) {
  // 64x64 -> 128x96: scale 1.5 fits: 96x96 centred horizontally.
  Placement p = place(64, 64, 128, 96, ResizeMode::kLetterbox);
  EXPECT_EQ(p.scaled_width, 96);
  EXPECT_EQ(p.scaled_height, 96);
  EXPECT_EQ(p.x, 16);
  EXPECT_EQ(p.y, 0);
}

TEST(Place, SameAspectNeedsNeitherCropNorPadding) {
  for (ResizeMode mode : {ResizeMode::kCrop, ResizeMode::kLetterbox, ResizeMode::kStretch}) {
    Placement p = place(1920, 1080, 320, 180, mode);
    EXPECT_EQ(p.scaled_width, 320) << to_string(mode);
    EXPECT_EQ(p.scaled_height, 180) << to_string(mode);
    EXPECT_EQ(p.x, 0) << to_string(mode);
    EXPECT_EQ(p.y, 0) << to_string(mode);
  }
}

TEST(Place, IdentityWhenOutputIsTheDisplaySize) {
  for (ResizeMode mode : {ResizeMode::kCrop, ResizeMode::kLetterbox, ResizeMode::kStretch}) {
    Placement p = place(640, 272, 640, 272, mode);
    EXPECT_EQ(p.scaled_width, 640);
    EXPECT_EQ(p.scaled_height, 272);
    EXPECT_EQ(p.x, 0);
    EXPECT_EQ(p.y, 0);
  }
}

TEST(Place, StretchFillsTheOutputExactly) {
  for (auto [dw, dh] : {std::pair{640, 272}, std::pair{270, 480}, std::pair{321, 241}}) {
    Placement p = place(dw, dh, 160, 120, ResizeMode::kStretch);
    EXPECT_EQ(p.scaled_width, 160);
    EXPECT_EQ(p.scaled_height, 120);
    EXPECT_EQ(p.x, 0);
    EXPECT_EQ(p.y, 0);
  }
}

// Invariants over many sizes: crop covers the output, letterbox fits inside it, both keep the
// aspect ratio within a pixel, one side always matches the output, centring is exact.
TEST(Place, CropCoversAndLetterboxFitsForManySizes) {
  const int displays[][2] = {{640, 272}, {272, 640}, {1920, 1080}, {1280, 720}, {321, 241},
                             {128, 128}, {200, 112}, {64, 64},    {426, 240},  {270, 480}};
  const int outputs[][2] = {{224, 224}, {112, 112}, {160, 120}, {120, 160}, {256, 64}, {33, 17}};
  for (const auto& d : displays) {
    for (const auto& o : outputs) {
      const int dw = d[0], dh = d[1], ow = o[0], oh = o[1];
      SCOPED_TRACE(std::to_string(dw) + "x" + std::to_string(dh) + " -> " + std::to_string(ow) + "x" +
                   std::to_string(oh));
      const double aspect = double(dw) / dh;

      Placement c = place(dw, dh, ow, oh, ResizeMode::kCrop);
      EXPECT_GE(c.scaled_width, ow);
      EXPECT_GE(c.scaled_height, oh);
      EXPECT_TRUE(c.scaled_width == ow || c.scaled_height == oh);
      EXPECT_LE(c.x, 0);
      EXPECT_LE(c.y, 0);
      expect_centred(c, ow, oh);
      if (c.scaled_height == oh) { EXPECT_NEAR(c.scaled_width, oh * aspect, 1.0); }
      else { EXPECT_NEAR(c.scaled_height, ow / aspect, 1.0); }

      Placement l = place(dw, dh, ow, oh, ResizeMode::kLetterbox);
      EXPECT_LE(l.scaled_width, ow);
      EXPECT_LE(l.scaled_height, oh);
      EXPECT_GE(l.scaled_width, 1);
      EXPECT_GE(l.scaled_height, 1);
      EXPECT_TRUE(l.scaled_width == ow || l.scaled_height == oh);
      EXPECT_GE(l.x, 0);
      EXPECT_GE(l.y, 0);
      expect_centred(l, ow, oh);
      if (l.scaled_height == oh) { EXPECT_NEAR(l.scaled_width, oh * aspect, 1.0); }
      else { EXPECT_NEAR(l.scaled_height, ow / aspect, 1.0); }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// FrameFormat

TEST(FrameFormat, NativeKeepsTheDisplayedSize) {
  FrameFormat f = FrameFormat::native();
  EXPECT_TRUE(f.is_native());
  EXPECT_EQ(f.out_width(270), 270);
  EXPECT_EQ(f.out_height(480), 480);
}

TEST(FrameFormat, SquareIsShorterSideCrop) {
  FrameFormat f = FrameFormat::square(224);
  EXPECT_FALSE(f.is_native());
  EXPECT_EQ(f.width, 224);
  EXPECT_EQ(f.height, 224);
  EXPECT_EQ(f.resize, ResizeMode::kCrop);
  EXPECT_EQ(f.filter, ScaleFilter::kBicubic);
  EXPECT_EQ(f.out_width(640), 224);
  EXPECT_EQ(FrameFormat::square(112, ResizeMode::kLetterbox).resize, ResizeMode::kLetterbox);
}

// ---------------------------------------------------------------------------------------------
// Name parsers

TEST(ParseResizeMode, KnownNamesRoundTrip) {
  EXPECT_EQ(parse_resize_mode("crop"), ResizeMode::kCrop);
  EXPECT_EQ(parse_resize_mode("letterbox"), ResizeMode::kLetterbox);
  EXPECT_EQ(parse_resize_mode("stretch"), ResizeMode::kStretch);
  for (ResizeMode m : {ResizeMode::kCrop, ResizeMode::kLetterbox, ResizeMode::kStretch}) {
    EXPECT_EQ(parse_resize_mode(to_string(m)), m);
  }
  EXPECT_EQ(to_string(ResizeMode::kLetterbox), "letterbox");
}

TEST(ParseResizeMode, BadNameThrowsUsageErrorNamingIt) {
  try {
    parse_resize_mode("zoom");
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("zoom"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_resize_mode(""), UsageError);
  EXPECT_THROW(parse_resize_mode("crop "), UsageError);
}

TEST(ParseScaleFilter, KnownNamesRoundTrip) {
  EXPECT_EQ(parse_scale_filter("bicubic"), ScaleFilter::kBicubic);
  EXPECT_EQ(parse_scale_filter("bilinear"), ScaleFilter::kBilinear);
  EXPECT_EQ(parse_scale_filter("area"), ScaleFilter::kArea);
  EXPECT_EQ(parse_scale_filter("lanczos"), ScaleFilter::kLanczos);
  for (ScaleFilter f : {ScaleFilter::kBicubic, ScaleFilter::kBilinear, ScaleFilter::kArea, ScaleFilter::kLanczos}) {
    EXPECT_EQ(parse_scale_filter(to_string(f)), f);
  }
  EXPECT_EQ(to_string(ScaleFilter::kArea), "area");
}

TEST(ParseScaleFilter, BadNameThrowsUsageErrorNamingIt) {
  try {
    parse_scale_filter("fancy");
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("fancy"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_scale_filter(""), UsageError);
}

}  // namespace
}  // namespace sfvu::decode
