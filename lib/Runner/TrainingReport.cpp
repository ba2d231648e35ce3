//===- TrainingReport.cpp - CSV log and SVG plot of a training run --------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file writes the per-epoch figures as CSV and as a plain SVG with two
// panels (loss, accuracy), training and validation curves in each.
//
//===----------------------------------------------------------------------===//

#include "mha/Runner/Training.h"
#include "mha/Runtime/FileIO.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>

using namespace mlir;
using namespace mlir::mha;

namespace {
void printNumber(llvm::raw_ostream &os, double v) {
  if (std::isnan(v))
    os << "";
  else
    os << llvm::format("%.6g", v);
}
} // namespace

llvm::Error mha::writeTrainingLog(llvm::StringRef path,
                                  llvm::ArrayRef<EpochRecord> records) {
  std::string text;
  {
    llvm::raw_string_ostream os(text);
    os << "epoch,loss,accuracy,val_loss,val_accuracy,mae,val_mae,seconds\n";
    for (const EpochRecord &r : records) {
      os << r.epoch;
      for (double v : {r.loss, r.accuracy, r.valLoss, r.valAccuracy, r.mae,
                       r.valMae, r.seconds}) {
        os << ",";
        printNumber(os, v);
      }
      os << "\n";
    }
  }
  return writeFileAtomically(path, text);
}

llvm::Error mha::writeTrainingPlot(llvm::StringRef path,
                                   llvm::ArrayRef<EpochRecord> records,
                                   llvm::StringRef title) {
  constexpr double width = 900, height = 380, panel = 400, top = 50,
                   plotH = 260, left = 60;
  std::string text;
  {
    llvm::raw_string_ostream os(text);
    os << llvm::format("<svg xmlns=\"http://www.w3.org/2000/svg\" "
                       "width=\"%.0f\" height=\"%.0f\" "
                       "font-family=\"sans-serif\" font-size=\"12\">\n",
                       width, height);
    os << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    os << "<text x=\"" << width / 2 << "\" y=\"22\" text-anchor=\"middle\" "
       << "font-size=\"15\">";
    for (char c : title)
      os << (c == '<' ? "&lt;" : c == '&' ? "&amp;" : std::string(1, c));
    os << "</text>\n";
    auto drawPanel = [&](double x0, const char *name, auto train, auto val,
                         bool unit) {
      double lo = unit ? 0.0 : INFINITY, hi = unit ? 1.0 : -INFINITY;
      if (!unit)
        for (const EpochRecord &r : records)
          for (double v : {train(r), val(r)})
            if (std::isfinite(v)) {
              lo = std::min(lo, v);
              hi = std::max(hi, v);
            }
      if (!(hi > lo)) {
        lo = std::isfinite(lo) ? lo - 1 : 0;
        hi = lo + 2;
      }
      int64_t last =
          records.empty() ? 1 : std::max<int64_t>(records.back().epoch, 2);
      int64_t first = records.empty() ? 1 : records.front().epoch;
      auto px = [&](double epoch) {
        return x0 + left +
               (epoch - first) / double(std::max<int64_t>(last - first, 1)) *
                   (panel - left - 10);
      };
      auto py = [&](double v) {
        return top + plotH - (v - lo) / (hi - lo) * plotH;
      };
      os << llvm::format("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                         "height=\"%.1f\" fill=\"none\" stroke=\"#888\"/>\n",
                         x0 + left, top, panel - left - 10, plotH);
      os << llvm::format("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
                         "%s</text>\n",
                         x0 + panel / 2 + left / 2, top - 8, name);
      for (int t = 0; t <= 4; ++t) {
        double v = lo + (hi - lo) * t / 4;
        os << llvm::format("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">"
                           "%.3g</text>\n",
                           x0 + left - 4, py(v) + 4, v);
      }
      os << llvm::format("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
                         "epoch</text>\n",
                         x0 + panel / 2 + left / 2, top + plotH + 32);
      os << llvm::format("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
                         "%lld</text><text x=\"%.1f\" y=\"%.1f\" "
                         "text-anchor=\"middle\">%lld</text>\n",
                         px(first), top + plotH + 16, (long long)first,
                         px(last), top + plotH + 16, (long long)last);
      auto curve = [&](auto get, const char *color) {
        std::string points;
        for (const EpochRecord &r : records) {
          double v = get(r);
          if (!std::isfinite(v))
            continue;
          points += llvm::formatv("{0:f1},{1:f1} ", px(r.epoch), py(v)).str();
        }
        if (!points.empty())
          os << "<polyline fill=\"none\" stroke=\"" << color
             << "\" stroke-width=\"2\" points=\"" << points << "\"/>\n";
      };
      curve(train, "#1f77b4");
      curve(val, "#d62728");
    };
    drawPanel(
        0, "loss", [](const EpochRecord &r) { return r.loss; },
        [](const EpochRecord &r) { return r.valLoss; }, false);
    drawPanel(
        panel + 50, "accuracy", [](const EpochRecord &r) { return r.accuracy; },
        [](const EpochRecord &r) { return r.valAccuracy; }, true);
    os << llvm::format("<text x=\"%.1f\" y=\"%.1f\" fill=\"#1f77b4\">"
                       "&#8212; training</text>\n",
                       left, height - 12);
    os << llvm::format("<text x=\"%.1f\" y=\"%.1f\" fill=\"#d62728\">"
                       "&#8212; validation</text>\n",
                       left + 110, height - 12);
    os << "</svg>\n";
  }
  return writeFileAtomically(path, text);
}
