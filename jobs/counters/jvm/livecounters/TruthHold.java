package livecounters;

import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.BoundedOneInput;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.types.Row;
import org.apache.flink.types.RowKind;

import java.util.HashSet;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Between the counting job's aggregation and its Python sink: holds a behind job's truths
 * and marks where a checkpoint barrier follows them.
 *
 * <p>Keyed by the counter row (the truth's key fields). While the job is behind, each truth
 * is kept in keyed state, the newest per row, and the held truths go to the sink together
 * in rounds ({@link HoldPolicy}; its specification is {@code aggregate/hold.HoldPolicy}): a row that
 * changes many times during a backlog crosses into Python and is written to Cassandra once
 * a round, not once per aggregation flush. While live, truths pass at once. Held truths are
 * in the checkpoint (keyed state), so a round may span checkpoints; what has passed to the
 * sink is written before the barrier: the marker row sent here right before each barrier (a
 * DELETE row, room -1) makes the sink wait for its writes (PyFlink tells a Python function no
 * more than that a bundle ended; Flink ends the sink's bundle at the barrier). At the end of
 * input everything held is released, then the marker.
 *
 * <p>Its gauges: {@code truths_held}, counter rows waiting in the hold now; and
 * {@code aggregated_age_ms}, a stage of the latency budget: how old the newest event of the
 * truths it has sent on was when it sent the last one (dedup, aggregation, the mini-batch flush
 * and the hold are behind it).
 */
public final class TruthHold extends AbstractStreamOperator<Row>
        implements OneInputStreamOperator<Row, Row>, BoundedOneInput {

    private static final long serialVersionUID = 1L;
    private static final String STATE = "held-truth";
    /** How often a round is checked for being due, in ms. */
    private static final long TICK_MS = 100;

    /** One letter per field of the truth rows: L (BIGINT), I (INT), S (STRING). */
    private final String fieldTypes;
    private final int keyFields;
    private final TypeInformation<Row> rowType;
    private final long holdMs;
    private final long behindMs;

    private transient HoldPolicy policy;
    private transient ValueState<Row> held;
    private transient Set<Object> heldKeys;
    private transient boolean greeted;
    private transient long newestTs;
    private transient volatile long aggregatedAgeMs;

    /**
     * {@code fieldTypes}: a letter per field of the truths; the first {@code keyFields} are the
     * counter row's key, the last is the newest event time the truth covers (max_ts).
     */
    public TruthHold(String fieldTypes, int keyFields, TypeInformation<Row> rowType,
                     long holdMs, long behindMs) {
        for (char c : fieldTypes.toCharArray()) {
            if (c != 'L' && c != 'I' && c != 'S') {
                throw new IllegalArgumentException("field types are L, I or S: " + fieldTypes);
            }
        }
        if (fieldTypes.charAt(fieldTypes.length() - 1) != 'L') {
            throw new IllegalArgumentException("the last field (max_ts) is a BIGINT");
        }
        this.fieldTypes = fieldTypes;
        this.keyFields = keyFields;
        this.rowType = rowType;
        this.holdMs = holdMs;
        this.behindMs = behindMs;
    }

    /** The counter row a truth is for: its first {@code keyFields} fields. */
    public static KeySelector<Row, Row> keySelector(int keyFields) {
        return truth -> {
            Row key = new Row(keyFields);
            for (int i = 0; i < keyFields; i++) {
                key.setField(i, truth.getField(i));
            }
            return key;
        };
    }

    /** The key's type, from the same letters. */
    public static TypeInformation<Row> keyType(String fieldTypes, int keyFields) {
        TypeInformation<?>[] types = new TypeInformation<?>[keyFields];
        for (int i = 0; i < keyFields; i++) {
            char c = fieldTypes.charAt(i);
            types[i] = c == 'L' ? Types.LONG : c == 'I' ? Types.INT : Types.STRING;
        }
        return Types.ROW(types);
    }

    /** The marker row: kind DELETE, every field -1 or "" (jobs/counters/truth.py, MARKER_ROOM). */
    public Row marker() {
        Row row = new Row(RowKind.DELETE, fieldTypes.length());
        for (int i = 0; i < fieldTypes.length(); i++) {
            char c = fieldTypes.charAt(i);
            row.setField(i, c == 'L' ? (Object) (-1L) : c == 'I' ? (Object) (-1) : "");
        }
        return row;
    }

    @Override
    public void open() throws Exception {
        super.open();
        policy = new HoldPolicy(holdMs, behindMs);
        held = getPartitionedState(new ValueStateDescriptor<>(STATE, rowType));
        heldKeys = new HashSet<>();
        // truths held when the checkpoint this attempt restored was taken
        try (Stream<Object> keys = getKeyedStateBackend().getKeys(STATE, VoidNamespace.INSTANCE)) {
            keys.forEach(heldKeys::add);
        }
        getMetricGroup().gauge("truths_held", () -> heldKeys.size());
        newestTs = Long.MIN_VALUE;
        getMetricGroup().gauge("aggregated_age_ms", () -> aggregatedAgeMs);
        scheduleTick();
    }

    private void scheduleTick() {
        long now = getProcessingTimeService().getCurrentProcessingTime();
        getProcessingTimeService().registerTimer(now + TICK_MS, this::tick);
    }

    private void tick(long timestamp) throws Exception {
        if (!greeted) {
            // A marker at once, so the sink's Python function opens now and not at its first
            // truth: its open() starts the watchdog that ends its worker with a dead
            // TaskManager, takes its fence and waits out the attempt before it, while the
            // source still catches up (a marker only makes the sink wait for its writes).
            greeted = true;
            output.collect(new StreamRecord<>(marker()));
        }
        long now = getProcessingTimeService().getCurrentProcessingTime();
        if (policy.releaseDue(now, !heldKeys.isEmpty())) {
            releaseAll(now);
        }
        scheduleTick();
    }

    @Override
    public void processElement(StreamRecord<Row> element) throws Exception {
        Row truth = element.getValue();
        long now = getProcessingTimeService().getCurrentProcessingTime();
        long maxTs = (Long) truth.getField(fieldTypes.length() - 1);
        String action = policy.offer(now, maxTs, !heldKeys.isEmpty());
        if (HoldPolicy.HOLD.equals(action)) {
            held.update(Row.copy(truth)); // a copy: with object reuse the input row is reused
            heldKeys.add(getCurrentKey());
            return;
        }
        if (HoldPolicy.RELEASE_AND_PASS.equals(action)) {
            Object key = getCurrentKey();
            if (heldKeys.remove(key)) {
                held.clear(); // this truth is newer than the one held for its row
            }
            releaseAll(now);
            setCurrentKey(key);
        }
        sent(maxTs);
        output.collect(element);
    }

    /** A truth goes on to the sink: the budget's age. */
    private void sent(long maxTs) {
        if (maxTs > newestTs) {
            newestTs = maxTs;
            aggregatedAgeMs = System.currentTimeMillis() - maxTs;
        }
    }

    /** Every held truth to the sink, and the state emptied. */
    private void releaseAll(long now) throws Exception {
        for (Object key : heldKeys) {
            setCurrentKey(key);
            Row truth = held.value();
            if (truth != null) {
                sent((Long) truth.getField(fieldTypes.length() - 1));
                output.collect(new StreamRecord<>(truth));
            }
            held.clear();
        }
        heldKeys.clear();
        policy.released(now);
    }

    @Override
    public void prepareSnapshotPreBarrier(long checkpointId) throws Exception {
        super.prepareSnapshotPreBarrier(checkpointId);
        output.collect(new StreamRecord<>(marker()));
    }

    @Override
    public void endInput() throws Exception {
        releaseAll(getProcessingTimeService().getCurrentProcessingTime());
        output.collect(new StreamRecord<>(marker()));
    }
}
