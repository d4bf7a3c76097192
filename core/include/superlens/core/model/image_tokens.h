#pragma once
// What each position of a vision model's run is: CLS, a register token, or
// the patch at (row, col) of the patch grid. Token order (docs/HOOKS.md):
// [CLS, registers..., patches row-major].

#include <cstdint>
#include <string>

namespace superlens::core {

enum class ImageTokenKind { Cls, Register, Patch };

struct ImageToken {
    ImageTokenKind kind = ImageTokenKind::Cls;
    int index = 0;  // register number (Register)
    int row = 0;    // patch grid row and column (Patch)
    int col = 0;
    std::string kindName() const;  // "cls", "register", "patch"
    std::string label() const;     // "CLS", "register 2", "patch (3, 4)"
};

// Position `position` of a run with `registers` register tokens and a patch
// grid `gridWidth` patches wide.
ImageToken imageTokenAt(std::int64_t position, int registers, std::int64_t gridWidth);

}  // namespace superlens::core
