#pragma once
// One lane of background work: runs a synchronous core call on the thread
// pool (QtConcurrent::run) with a RunControl for progress and cancel, and
// delivers the result on the GUI thread. Starting a job cancels the one
// still running in the same lane (a newer toggle supersedes an older run);
// results of superseded jobs are dropped. No processEvents() anywhere.
//
// Thread-safety: create, start and cancel on the GUI thread only.

#include <atomic>
#include <functional>
#include <memory>

#include <QFuture>
#include <QFutureWatcher>
#include <QList>
#include <QObject>
#include <QString>
#include <QtConcurrent/QtConcurrentRun>

#include "superlens/core/result.h"
#include "superlens/core/run_control.h"

namespace superlens::gui {

class JobLane : public QObject {
    Q_OBJECT
public:
    explicit JobLane(QString name, QObject* parent = nullptr);
    ~JobLane() override;

    const QString& name() const { return m_name; }
    bool isRunning() const { return m_running; }
    QString currentLabel() const { return m_label; }

    // Runs work(control) on a worker; calls onDone(result) on the GUI thread
    // unless a newer job was started or cancel() was called first.
    template <class T>
    void start(const QString& label, std::function<core::Result<T>(const core::RunControl&)> work,
               std::function<void(core::Result<T>&)> onDone) {
        supersede();
        const quint64 generation = ++m_generation;
        auto control = std::make_shared<core::RunControl>();
        control->setProgressCallback(progressForwarder(generation));
        m_control = control;
        m_label = label;
        m_running = true;
        emit started(label);
        using Box = std::shared_ptr<core::Result<T>>;
        auto* watcher = new QFutureWatcher<Box>(this);
        connect(watcher, &QFutureWatcher<Box>::finished, this, [this, watcher, generation, onDone, label] {
            Box result = watcher->result();
            watcher->deleteLater();
            if (generation != m_generation) return;  // superseded or cancelled
            m_running = false;
            m_control.reset();
            const bool ok = result && result->ok();
            const QString message = ok ? QString() : QString::fromStdString(result->error().message);
            if (result) onDone(*result);
            emit finished(label, ok, message);
        });
        QFuture<Box> future = QtConcurrent::run([control, work = std::move(work)]() -> Box {
            return std::make_shared<core::Result<T>>(work(*control));
        });
        trackFuture(QFuture<void>(future));
        watcher->setFuture(future);
    }

    // Cancels the running job (cooperatively: core polls between layers).
    void cancel();
    // Blocks until the worker returned (used by destructors and tests only).
    void waitForIdle();

signals:
    void started(const QString& label);
    void progress(const QString& label, qint64 done, qint64 total, const QString& stage);
    void finished(const QString& label, bool ok, const QString& message);
    void cancelled(const QString& label);

private:
    core::RunControl::ProgressFn progressForwarder(quint64 generation);
    // Cancels the running job without reporting it (a newer job replaces it).
    void supersede();
    void trackFuture(QFuture<void> future);

    QString m_name;
    QString m_label;
    bool m_running = false;
    std::atomic<quint64> m_generation{0};
    std::shared_ptr<core::RunControl> m_control;
    QList<QFuture<void>> m_futures;  // every worker still running (superseded ones too)
};

}  // namespace superlens::gui
