package dev.sockstatlog;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** No public method of the bindings or FastCounters has a JVM name Java cannot call (see [JvmNames]). */
class JvmNamesTest {
    @Test
    void noPublicMethodHasAMangledJvmName() throws Exception {
        List<String> bad = JvmNames.mangled(JvmNames.dirs(SockstatLogger.class));
        assertTrue(bad.isEmpty(), "mangled JVM names, uncallable from Java:\n  " + String.join("\n  ", bad));
    }
}
