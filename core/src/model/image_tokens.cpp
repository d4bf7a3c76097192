#include "superlens/core/model/image_tokens.h"

namespace superlens::core {

std::string ImageToken::kindName() const {
    switch (kind) {
        case ImageTokenKind::Cls: return "cls";
        case ImageTokenKind::Register: return "register";
        case ImageTokenKind::Patch: return "patch";
    }
    return "?";
}

std::string ImageToken::label() const {
    switch (kind) {
        case ImageTokenKind::Cls: return "CLS";
        case ImageTokenKind::Register: return "register " + std::to_string(index);
        case ImageTokenKind::Patch: return "patch (" + std::to_string(row) + ", " + std::to_string(col) + ")";
    }
    return "?";
}

ImageToken imageTokenAt(std::int64_t position, int registers, std::int64_t gridWidth) {
    ImageToken t;
    if (position <= 0) return t;
    if (position <= registers) {
        t.kind = ImageTokenKind::Register;
        t.index = static_cast<int>(position - 1);
        return t;
    }
    const std::int64_t patch = position - 1 - registers;
    t.kind = ImageTokenKind::Patch;
    t.row = static_cast<int>(gridWidth > 0 ? patch / gridWidth : 0);
    t.col = static_cast<int>(gridWidth > 0 ? patch % gridWidth : 0);
    return t;
}

}  // namespace superlens::core
