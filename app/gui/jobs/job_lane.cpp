#include "job_lane.h"

#include <QMetaObject>

namespace superlens::gui {

JobLane::JobLane(QString name, QObject* parent) : QObject(parent), m_name(std::move(name)) {}

JobLane::~JobLane() {
    cancel();
    // Workers may still post progress to this object: wait until all returned.
    waitForIdle();
}

void JobLane::cancel() {
    if (m_control) m_control->cancel();
    m_control.reset();
    if (m_running) {
        m_running = false;
        ++m_generation;
        emit cancelled(m_label);
    }
}

void JobLane::supersede() {
    if (m_control) m_control->cancel();
    m_control.reset();
    m_running = false;
}

void JobLane::waitForIdle() {
    for (QFuture<void>& f : m_futures) f.waitForFinished();
    m_futures.clear();
}

void JobLane::trackFuture(QFuture<void> future) {
    m_futures.removeIf([](const QFuture<void>& f) { return f.isFinished(); });
    m_futures.push_back(std::move(future));
}

core::RunControl::ProgressFn JobLane::progressForwarder(quint64 generation) {
    // Workers never outlive the lane (the destructor waits for them).
    JobLane* self = this;
    return [self, generation](std::int64_t done, std::int64_t total, const char* stage) {
        const QString stageText = QString::fromUtf8(stage ? stage : "");
        // Runs on the worker: hop to the GUI thread; drop reports of superseded jobs there.
        QMetaObject::invokeMethod(
            self,
            [self, generation, done, total, stageText] {
                if (generation != self->m_generation) return;
                emit self->progress(self->m_label, done, total, stageText);
            },
            Qt::QueuedConnection);
    };
}

}  // namespace superlens::gui
