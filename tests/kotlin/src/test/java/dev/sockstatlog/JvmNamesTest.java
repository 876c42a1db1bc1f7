package dev.sockstatlog;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * No public method of the compiled API has a JVM name Java cannot call.
 * Kotlin mangles a function taking or returning an inline class (`UInt`,
 * `ULong`, `kotlin.Result`, ...) into `name-hash`, and hides a constructor
 * taking one behind a synthetic overload with a `DefaultConstructorMarker`.
 * Scans every class under the directories in `sockstatlog.jvmnames.dirs`
 * (default: this module's compiled main classes: the bindings and
 * `FastCounters`), except UniFFI's own runtime ([RUNTIME]: converters,
 * JNA structures, the cleaner, marked `@suppress` in the generated KDoc and
 * never called by a host), and the constructors of companion objects and
 * sealed (abstract) classes, which Kotlin deliberately keeps from Java.
 */
class JvmNamesTest {
    /** Top-level class names of UniFFI's generated runtime in the bindings' package. */
    static final java.util.regex.Pattern RUNTIME = java.util.regex.Pattern.compile(
            "(FfiConverter|Uniffi|uniffi|RustBuffer|ForeignBytes|IntegrityCheckingUniffiLib|JavaLangRefCleaner"
                    + "|NoHandle|AndroidSystemCleaner|UniffiJnaCleaner).*|.*Impl");

    /** The mangled members found in [dirs], one line each. */
    static List<String> mangled(List<Path> dirs) throws IOException, ClassNotFoundException {
        List<String> bad = new ArrayList<>();
        int classes = 0;
        for (Path dir : dirs) {
            List<Path> files;
            try (Stream<Path> walk = Files.walk(dir)) {
                files = walk.filter(p -> p.toString().endsWith(".class")).sorted().toList();
            }
            for (Path f : files) {
                String name = dir.relativize(f).toString().replace('/', '.').replaceAll("\\.class$", "");
                String simple = name.substring(name.lastIndexOf('.') + 1);
                if (RUNTIME.matcher(simple.split("\\$")[0]).matches()) continue;
                Class<?> c = Class.forName(name, false, JvmNamesTest.class.getClassLoader());
                classes++;
                if (!Modifier.isPublic(c.getModifiers())) continue;
                for (Method m : c.getDeclaredMethods()) {
                    boolean visible = Modifier.isPublic(m.getModifiers()) || Modifier.isProtected(m.getModifiers());
                    if (visible && !m.isSynthetic() && m.getName().contains("-")) bad.add(name + "." + m.getName());
                }
                boolean hidden = false, open = false;
                for (Constructor<?> k : c.getDeclaredConstructors()) {
                    if (!Modifier.isPublic(k.getModifiers())) continue;
                    if (k.isSynthetic()) {
                        Class<?>[] p = k.getParameterTypes();
                        hidden |= p.length > 0
                                && p[p.length - 1].getName().equals("kotlin.jvm.internal.DefaultConstructorMarker");
                    } else {
                        open = true;
                    }
                }
                if (hidden && !open && !isCompanion(c) && !Modifier.isAbstract(c.getModifiers())) bad.add(name + ".<init> (only a synthetic constructor is public)");
            }
        }
        assertTrue(classes > 0, "no classes under " + dirs);
        return bad;
    }

    /** A Kotlin companion object: its outer class holds it in a static field. */
    static boolean isCompanion(Class<?> c) {
        Class<?> outer = c.getDeclaringClass();
        if (outer == null) return false;
        for (java.lang.reflect.Field f : outer.getDeclaredFields()) {
            if (Modifier.isStatic(f.getModifiers()) && f.getType() == c) return true;
        }
        return false;
    }

    @Test
    void noPublicMethodHasAMangledJvmName() throws Exception {
        String prop = System.getProperty("sockstatlog.jvmnames.dirs");
        List<Path> dirs = new ArrayList<>();
        if (prop == null || prop.isEmpty()) {
            dirs.add(Paths.get(SockstatLogger.class.getProtectionDomain().getCodeSource().getLocation().toURI()));
        } else {
            for (String d : prop.split(java.io.File.pathSeparator)) dirs.add(Paths.get(d));
        }
        List<String> bad = mangled(dirs);
        assertTrue(bad.isEmpty(), "mangled JVM names, uncallable from Java:\n  " + String.join("\n  ", bad));
    }
}
